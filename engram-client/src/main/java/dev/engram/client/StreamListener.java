package dev.engram.client;

import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamStatus;

/**
 * Callbacks from an {@link EngramStream}. Every method has an empty default, so implement only what
 * you need.
 *
 * <p>Thread-safety: methods are called from gRPC's callback threads, one call at a time per stream
 * connection and in the order the server sent the events; they must not block. An exception thrown
 * by a listener is logged and otherwise ignored.
 */
public interface StreamListener {

  /**
   * The server acknowledged every observation up to ticket {@code acceptedThrough} (inclusive),
   * including any it rejected (reported before through {@link #onRejected}).
   *
   * @param indexedThrough the highest ticket known to be indexed, -1 if none
   */
  default void onAcknowledged(long acceptedThrough, long indexedThrough) {}

  /**
   * Every observation up to ticket {@code consolidatedThrough} (inclusive) is consolidated: its
   * association edges, and a merge into an earlier near-duplicate, are durable. Called when the
   * watermark advances, after {@link #onAcknowledged} for the same acknowledgement.
   */
  default void onConsolidated(long consolidatedThrough) {}

  /** An observation was refused permanently; it has left the buffer. */
  default void onRejected(Rejected rejected) {}

  /** The server reported a change of stream state (backpressure, overload, active again). */
  default void onStatus(StreamStatus status) {}

  /** The server asked for observations from {@code fromTicket} on again. */
  default void onResend(long fromTicket, ResendReason reason, int retryAfterMillis) {}

  /**
   * A session was established: the first, a resumed one after a reconnect ({@code resumed}), or a
   * new one after the server forgot the old.
   */
  default void onConnected(String sessionId, boolean resumed) {}

  /** The connection was lost; a reconnect is scheduled after {@code delayMillis}. */
  default void onDisconnected(Throwable cause, int attempt, long delayMillis) {}

  /** The stream ended for good. */
  default void onFailed(StreamFailedException failure) {}
}
