package dev.engram.core.auth;

import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.TooManyStreamsException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * What each token may use at once: its open streams ({@code --max-streams-per-token}) and its
 * observation rate ({@code --token-rate}, a {@link TokenBucket} per token). Both count per token
 * id, so every door and every space the token reaches share them. With authentication off ({@link
 * Principal.Unrestricted}) there is no token to count by, and neither limit applies.
 *
 * <p>Thread-safety: safe from any thread.
 */
public final class TokenQuotas {
  private final int maxStreams;
  private final int rate;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Integer> openStreams = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, TokenBucket> buckets = new ConcurrentHashMap<>();

  public TokenQuotas(MessageLimits limits, LongSupplier nanoClock) {
    this.maxStreams = limits.maxStreamsPerToken();
    this.rate = limits.tokenRate();
    this.nanoClock = nanoClock;
  }

  /** A stream's hold on one of its token's stream slots; {@link #release} is idempotent. */
  public interface StreamSlot {
    StreamSlot NONE = () -> {};

    void release();
  }

  /**
   * Counts one more open stream for {@code principal}'s token.
   *
   * @return the slot, to release when the stream ends, however it ends
   * @throws TooManyStreamsException if the token already has {@code --max-streams-per-token} open
   */
  public StreamSlot openStream(Principal principal) {
    if (maxStreams == 0 || !(principal instanceof Principal.Holder holder)) {
      return StreamSlot.NONE;
    }
    String id = holder.token().id();
    boolean[] counted = {false};
    openStreams.compute(
        id,
        (key, open) -> {
          int n = open == null ? 0 : open;
          if (n >= maxStreams) {
            return open;
          }
          counted[0] = true;
          return n + 1;
        });
    if (!counted[0]) {
      throw new TooManyStreamsException(
          ("token %s already has %d streams open, its limit (--max-streams-per-token %d): close"
                  + " one or raise the limit")
              .formatted(id, maxStreams, maxStreams));
    }
    AtomicBoolean released = new AtomicBoolean();
    return () -> {
      if (released.compareAndSet(false, true)) {
        openStreams.computeIfPresent(id, (key, open) -> open <= 1 ? null : open - 1);
      }
    };
  }

  /** How many streams {@code tokenId} has open now. */
  public int openStreams(String tokenId) {
    return openStreams.getOrDefault(tokenId, 0);
  }

  /** The bucket {@code principal}'s observations are taken from ({@link TokenBucket#UNLIMITED}). */
  public TokenBucket bucket(Principal principal) {
    if (rate == 0 || !(principal instanceof Principal.Holder holder)) {
      return TokenBucket.UNLIMITED;
    }
    return buckets.computeIfAbsent(holder.token().id(), id -> new TokenBucket(rate, nanoClock));
  }
}
