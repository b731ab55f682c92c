package dev.engram.core.model;

/**
 * Creating one more space would pass {@code --max-spaces}: {@code RESOURCE_EXHAUSTED} / HTTP 429,
 * its message naming the limit. Deleting a space makes room; waiting does not.
 */
public final class TooManySpacesException extends EngramException implements LimitRefusal {
  private static final long serialVersionUID = 1L;

  public TooManySpacesException(String message) {
    super(message);
  }

  @Override
  public Limit limit() {
    return Limit.SPACES;
  }
}
