package dev.engram.core.model;

/**
 * An input over one of the server's size limits (batch, {@code k}, content, metadata, message
 * bytes): invalid as given ({@code INVALID_ARGUMENT} / HTTP 400), its message naming the limit and
 * the value.
 */
public final class LimitExceededException extends InvalidInputException implements LimitRefusal {
  private static final long serialVersionUID = 1L;
  private final Limit limit;

  public LimitExceededException(Limit limit, String message) {
    super(message);
    this.limit = limit;
  }

  @Override
  public Limit limit() {
    return limit;
  }
}
