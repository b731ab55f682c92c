package dev.engram.client;

import java.time.Duration;
import java.util.Objects;

/**
 * How an {@link EngramStream} buffers, batches, reconnects and closes. Build one with {@link
 * #builder()}; each setter validates its value and names it in the error.
 *
 * <p>Thread-safety: immutable.
 */
public final class StreamOptions {
  private final int bufferSize;
  private final FullPolicy fullPolicy;
  private final Duration blockTimeout;
  private final int maxBatchSize;
  private final int maxBatchBytes;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final int maxReconnectAttempts;
  private final Duration closeTimeout;
  private final long jitterSeed;
  private final StreamListener listener;
  private final Duration recallTimeout;
  private final int maxPendingRecalls;
  private final int maxRepeatedFailures;

  private StreamOptions(Builder b) {
    this.bufferSize = b.bufferSize;
    this.fullPolicy = b.fullPolicy;
    this.blockTimeout = b.blockTimeout;
    this.maxBatchSize = b.maxBatchSize;
    this.maxBatchBytes = b.maxBatchBytes;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.maxReconnectAttempts = b.maxReconnectAttempts;
    this.closeTimeout = b.closeTimeout;
    this.jitterSeed = b.jitterSeed;
    this.listener = b.listener;
    this.recallTimeout = b.recallTimeout;
    this.maxPendingRecalls = b.maxPendingRecalls;
    this.maxRepeatedFailures = b.maxRepeatedFailures;
  }

  /** The defaults: 8,192 in flight, block up to 30 s, batches of up to 256, backoff 50 ms–5 s. */
  public static StreamOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public int bufferSize() {
    return bufferSize;
  }

  public FullPolicy fullPolicy() {
    return fullPolicy;
  }

  public Duration blockTimeout() {
    return blockTimeout;
  }

  public int maxBatchSize() {
    return maxBatchSize;
  }

  public int maxBatchBytes() {
    return maxBatchBytes;
  }

  public Duration initialBackoff() {
    return initialBackoff;
  }

  public Duration maxBackoff() {
    return maxBackoff;
  }

  public int maxReconnectAttempts() {
    return maxReconnectAttempts;
  }

  public Duration closeTimeout() {
    return closeTimeout;
  }

  public long jitterSeed() {
    return jitterSeed;
  }

  public StreamListener listener() {
    return listener;
  }

  public Duration recallTimeout() {
    return recallTimeout;
  }

  public int maxPendingRecalls() {
    return maxPendingRecalls;
  }

  public int maxRepeatedFailures() {
    return maxRepeatedFailures;
  }

  /** Builds {@link StreamOptions}. Not thread-safe. */
  public static final class Builder {
    private int bufferSize = 8192;
    private FullPolicy fullPolicy = FullPolicy.BLOCK;
    private Duration blockTimeout = Duration.ofSeconds(30);
    private int maxBatchSize = 256;
    private int maxBatchBytes = 1 << 20;
    private Duration initialBackoff = Duration.ofMillis(50);
    private Duration maxBackoff = Duration.ofSeconds(5);
    private int maxReconnectAttempts = Integer.MAX_VALUE;
    private Duration closeTimeout = Duration.ofSeconds(30);
    private long jitterSeed = System.nanoTime();
    private StreamListener listener = new StreamListener() {};
    private Duration recallTimeout = Duration.ofSeconds(30);
    private int maxPendingRecalls = 1024;
    private int maxRepeatedFailures = 5;

    private Builder() {}

    /** Observations kept until acknowledged; {@code observe} waits or fails beyond it. */
    public Builder bufferSize(int size) {
      if (size < 1 || size > 1 << 24) {
        throw new IllegalArgumentException("bufferSize must be 1..16777216, got " + size);
      }
      this.bufferSize = size;
      return this;
    }

    /** Block up to {@code timeout} for room, then throw {@link BufferFullException}. */
    public Builder blockWhenFull(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("blockWhenFull timeout must be >= 0, got " + timeout);
      }
      this.fullPolicy = FullPolicy.BLOCK;
      this.blockTimeout = timeout;
      return this;
    }

    /** Throw {@link BufferFullException} at once when the buffer is full. */
    public Builder failWhenFull() {
      this.fullPolicy = FullPolicy.FAIL_FAST;
      return this;
    }

    /** Most observations per {@code observations} message. */
    public Builder maxBatchSize(int size) {
      if (size < 1 || size > 65_536) {
        throw new IllegalArgumentException("maxBatchSize must be 1..65536, got " + size);
      }
      this.maxBatchSize = size;
      return this;
    }

    /** Most serialized bytes per batch message (keep it well under the server's 4 MiB limit). */
    public Builder maxBatchBytes(int bytes) {
      if (bytes < 1024 || bytes > 4 << 20) {
        throw new IllegalArgumentException("maxBatchBytes must be 1024..4194304, got " + bytes);
      }
      this.maxBatchBytes = bytes;
      return this;
    }

    /** Reconnect delays: exponential from {@code initial}, capped at {@code max}, with jitter. */
    public Builder backoff(Duration initial, Duration max) {
      Objects.requireNonNull(initial, "initial");
      Objects.requireNonNull(max, "max");
      if (initial.isNegative() || initial.isZero()) {
        throw new IllegalArgumentException("initial backoff must be positive, got " + initial);
      }
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException(
            "max backoff (" + max + ") must be >= initial backoff (" + initial + ")");
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /** Consecutive failed connection attempts before the stream fails; unlimited by default. */
    public Builder maxReconnectAttempts(int attempts) {
      if (attempts < 0) {
        throw new IllegalArgumentException("maxReconnectAttempts must be >= 0, got " + attempts);
      }
      this.maxReconnectAttempts = attempts;
      return this;
    }

    /** How long {@link EngramStream#close()} waits for the buffer to drain and the final ack. */
    public Builder closeTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("closeTimeout must be >= 0, got " + timeout);
      }
      this.closeTimeout = timeout;
      return this;
    }

    /** Seed of the reconnect jitter (tests pin it). */
    public Builder jitterSeed(long seed) {
      this.jitterSeed = seed;
      return this;
    }

    public Builder listener(StreamListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /** How long a recall waits for its answer before its future fails with DEADLINE_EXCEEDED. */
    public Builder recallTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("recallTimeout must be positive, got " + timeout);
      }
      this.recallTimeout = timeout;
      return this;
    }

    /** Recalls awaiting an answer; one more fails at once with RESOURCE_EXHAUSTED. */
    public Builder maxPendingRecalls(int max) {
      if (max < 1 || max > 1 << 20) {
        throw new IllegalArgumentException("maxPendingRecalls must be 1..1048576, got " + max);
      }
      this.maxPendingRecalls = max;
      return this;
    }

    /**
     * How many times in a row a connection may end with the same status (other than UNAVAILABLE)
     * while the stream had work in flight and none of it was acknowledged, before the stream fails
     * with that status instead of reconnecting again.
     */
    public Builder maxRepeatedFailures(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxRepeatedFailures must be >= 1, got " + max);
      }
      this.maxRepeatedFailures = max;
      return this;
    }

    public StreamOptions build() {
      return new StreamOptions(this);
    }
  }
}
