package dev.engram.core.auth;

import java.util.function.LongSupplier;

/**
 * One token's observation rate ({@code --token-rate}): a bucket that fills at {@code rate} permits
 * per second up to one second's worth, one permit per observation. Streams take what is there (the
 * rest is resent); unary calls take all or nothing, and a call larger than the bucket may go when
 * the bucket is full, leaving it in debt.
 *
 * <p>Thread-safety: every method is synchronized (a token's streams and calls share its bucket).
 */
public final class TokenBucket {
  /** No limit: every take is granted in full. */
  public static final TokenBucket UNLIMITED = new TokenBucket(0, () -> 0L);

  private final int rate; // permits per second; 0: unlimited
  private final double burst;
  private final LongSupplier nanoClock;
  private double permits;
  private long refilledAt;

  TokenBucket(int rate, LongSupplier nanoClock) {
    this.rate = rate;
    this.burst = Math.max(1, rate);
    this.nanoClock = nanoClock;
    this.permits = burst;
    this.refilledAt = nanoClock.getAsLong();
  }

  /** Permits per second; 0 when unlimited. */
  public int rate() {
    return rate;
  }

  /** Takes up to {@code n} permits; returns how many were taken. */
  public synchronized int take(int n) {
    if (rate == 0) {
      return n;
    }
    refill();
    int taken = (int) Math.min(n, Math.max(0, Math.floor(permits)));
    permits -= taken;
    return taken;
  }

  /**
   * Takes {@code n} permits or none: granted when the bucket holds {@code n}, or is full when
   * {@code n} is more than it can hold.
   */
  public synchronized boolean takeAll(int n) {
    if (rate == 0) {
      return true;
    }
    refill();
    if (permits < Math.min(n, burst)) {
      return false;
    }
    permits -= n;
    return true;
  }

  /** Returns permits taken for observations that were not accepted after all. */
  public synchronized void giveBack(int n) {
    if (rate != 0 && n > 0) {
      permits = Math.min(burst, permits + n);
    }
  }

  /** How long until {@code n} permits (at most the bucket's size) are there: at least 1 ms. */
  public synchronized int retryAfterMillis(int n) {
    if (rate == 0) {
      return 1;
    }
    refill();
    double missing = Math.min(n, burst) - permits;
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Math.ceil(missing * 1000 / rate)));
  }

  private void refill() {
    long now = nanoClock.getAsLong();
    permits = Math.min(burst, permits + (now - refilledAt) * rate / 1e9);
    refilledAt = now;
  }
}
