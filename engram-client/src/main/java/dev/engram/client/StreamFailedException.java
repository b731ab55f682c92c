package dev.engram.client;

import io.grpc.Status;

/**
 * A stream ended for good: the server refused it with a permanent status (unknown space, invalid
 * request), reconnect attempts ran out, or the stream was closed. Observations still buffered were
 * not acknowledged; {@link EngramStream#stats()} says how many.
 */
public final class StreamFailedException extends RuntimeException {
  private final transient Status status;

  StreamFailedException(Status status, String message) {
    super(message, status.getCause());
    this.status = status;
  }

  /** The gRPC status that ended the stream. */
  public Status status() {
    return status;
  }
}
