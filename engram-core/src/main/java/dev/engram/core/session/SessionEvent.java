package dev.engram.core.session;

import dev.engram.core.model.RecallResult;
import dev.engram.core.model.StatusCode;

/**
 * What a session tells its client. Transports translate each event into their own frame (a protobuf
 * {@code StreamResponse}, a JSON text frame); they add nothing and decide nothing.
 */
public sealed interface SessionEvent {

  /** The answer to {@code init}: the session id, the first expected sequence, the limits. */
  record InitAck(String sessionId, long nextSequence, Capabilities capabilities)
      implements SessionEvent {}

  /** What the server offers a session, and the largest message and batch it takes. */
  record Capabilities(
      int maxObservationsPerSecond,
      int queueCapacity,
      int dimension,
      int maxMessageBytes,
      int maxBatchSize) {}

  /** Cumulative acknowledgement. */
  record Ack(long acceptedThrough, long indexedThrough, long consolidatedThrough)
      implements SessionEvent {
    /** An ack from a server without consolidation. */
    public Ack(long acceptedThrough, long indexedThrough) {
      this(acceptedThrough, indexedThrough, 0);
    }
  }

  /** Backpressure state of the stream. */
  record Status(
      StreamState state,
      String message,
      int queueDepth,
      int queueCapacity,
      float pressure,
      float suggestedRate)
      implements SessionEvent {}

  /** The answer to a recall request on the stream. */
  record RecallAnswer(String requestId, RecallResult result) implements SessionEvent {}

  /** Go-back-N: the client resends everything from {@code fromSequence} on. */
  record Resend(long fromSequence, ResendReason reason, int retryAfterMillis)
      implements SessionEvent {}

  /**
   * A permanent failure of one message; an observation's number is consumed. {@code requestId} is
   * set for a failed recall and empty for an observation.
   */
  record Rejection(long sequenceNumber, StatusCode code, String message, String requestId)
      implements SessionEvent {

    /** The rejection of an observation. */
    public Rejection(long sequenceNumber, StatusCode code, String message) {
      this(sequenceNumber, code, message, "");
    }
  }

  /** A failure of the whole stream; the transport ends the call after sending it. */
  record Error(StatusCode code, String message) implements SessionEvent {}

  /** Stream states, as on the wire. */
  enum StreamState {
    ACTIVE,
    BACKPRESSURE,
    OVERLOADED,
    DRAINING,
    CLOSED
  }

  /** Why the client must resend. */
  enum ResendReason {
    GAP,
    OVERLOADED
  }
}
