package dev.engram.core.model;

/**
 * The admission queue is past its hard limit. Maps to {@code RESOURCE_EXHAUSTED} with retry info on
 * unary calls and HTTP 429 with {@code Retry-After}.
 */
public class OverloadedException extends EngramException {
  private static final long serialVersionUID = 1L;
  private final int retryAfterMillis;

  public OverloadedException(String message, int retryAfterMillis) {
    super(message);
    this.retryAfterMillis = retryAfterMillis;
  }

  /** How long the caller should wait before retrying. */
  public int retryAfterMillis() {
    return retryAfterMillis;
  }
}
