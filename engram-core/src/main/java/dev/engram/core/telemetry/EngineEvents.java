package dev.engram.core.telemetry;

import dev.engram.core.model.Limit;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.SessionEvent.ResendReason;
import dev.engram.core.session.SessionEvent.StreamState;

/**
 * The engine's hook for metrics: the engine calls it where something countable happens, and an
 * implementation outside the core (the server's Micrometer binding) turns the calls into series.
 * The core itself depends on no metrics library. Values the engine already keeps (queue depth,
 * indexed count, restarts, per-space counts) are not reported here; read them from {@link
 * dev.engram.core.Engram#ingestStats()} and friends at scrape time.
 *
 * <p>Cost: the accept path calls {@link #observations} once per message and outcome, and {@link
 * #visible} / {@link #indexed} once per episode; implementations must not lock or allocate there
 * (pre-built counters, {@code LongAdder}s). Every method does nothing by default.
 *
 * <p>Thread-safety: implementations must be safe from any thread; calls come from transport
 * threads, index workers, the storage committer and the snapshot thread.
 */
public interface EngineEvents {

  /** {@code count} episodes that came in through {@code door} ended in {@code outcome}. */
  default void observations(Door door, Outcome outcome, int count) {}

  /** A stream message was answered: from its arrival to its ack took {@code nanos}. */
  default void acked(Door door, long nanos) {}

  /** An accepted episode became searchable {@code lagNanos} after it was accepted. */
  default void visible(long lagNanos) {}

  /** A text-only episode was given its vector {@code lagNanos} after it was accepted. */
  default void embedded(long lagNanos) {}

  /** An accepted episode entered the vector index {@code lagNanos} after it was accepted. */
  default void indexed(long lagNanos) {}

  /** A recall in {@code mode} ran for {@code nanos}. */
  default void recalled(Door door, RecallMode mode, long nanos) {}

  /** A client was answered with the error {@code code} (a rejection, a failed call or stream). */
  default void failed(Door door, StatusCode code) {}

  /** An input through {@code door} was refused at the configured {@code limit}. */
  default void limitRefused(Door door, Limit limit) {}

  /** A session told its client to resend, for {@code reason}. */
  default void resent(ResendReason reason) {}

  /** A session's backpressure state changed to {@code state}. */
  default void stateChanged(StreamState state) {}

  /** A transport stream opened on {@code door}. */
  default void streamOpened(Door door) {}

  /** A transport stream on {@code door} ended (each opened stream ends exactly once). */
  default void streamClosed(Door door) {}

  /** A write to the store took {@code nanos}; {@code ok} false when it failed. */
  default void storageCommitted(long nanos, boolean ok) {}

  /** A graph snapshot took {@code nanos}; {@code ok} false when it failed. */
  default void snapshotted(long nanos, boolean ok) {}

  /** Ignores every event. */
  EngineEvents NONE = new EngineEvents() {};
}
