package dev.engram.core.model;

/**
 * Base of the engine's domain failures. Each subtype maps to one gRPC status / HTTP status at the
 * transport edge; the message is meant for the client and names the problem.
 */
public abstract class EngramException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  protected EngramException(String message) {
    super(message);
  }

  protected EngramException(String message, Throwable cause) {
    super(message, cause);
  }
}
