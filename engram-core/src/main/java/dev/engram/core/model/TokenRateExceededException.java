package dev.engram.core.model;

/**
 * A unary call's token has used up its {@code --token-rate}: answered like a full ingest queue
 * ({@code RESOURCE_EXHAUSTED} with retry info / HTTP 429 with {@code Retry-After}), the wait being
 * the time the token's bucket needs to hold the call's observations.
 */
public final class TokenRateExceededException extends OverloadedException implements LimitRefusal {
  private static final long serialVersionUID = 1L;

  public TokenRateExceededException(String message, int retryAfterMillis) {
    super(message, retryAfterMillis);
  }

  @Override
  public Limit limit() {
    return Limit.TOKEN_RATE;
  }
}
