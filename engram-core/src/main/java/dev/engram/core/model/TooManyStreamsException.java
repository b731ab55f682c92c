package dev.engram.core.model;

/**
 * Opening one more stream with a token would pass {@code --max-streams-per-token}: the stream ends
 * with {@code RESOURCE_EXHAUSTED}, its message naming the limit. Closing one of the token's streams
 * makes room.
 */
public final class TooManyStreamsException extends EngramException implements LimitRefusal {
  private static final long serialVersionUID = 1L;

  public TooManyStreamsException(String message) {
    super(message);
  }

  @Override
  public Limit limit() {
    return Limit.STREAMS_PER_TOKEN;
  }
}
