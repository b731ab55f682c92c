package dev.engram.core.ingest;

/**
 * The highest number {@code t} such that every number in {@code 1..t} has completed, for numbers
 * that complete in any order ("indexed through").
 *
 * <p>Design: completions ahead of the watermark are remembered in a ring of flags indexed by {@code
 * n & mask}, which doubles when a completion lands further ahead than the ring is long. Completing
 * {@code through + 1} advances the watermark over every contiguous completed slot.
 *
 * <p>Concurrency: all state is guarded by {@code this}; the critical section is a few array
 * accesses. {@link #through()} reads a volatile copy without locking. The watermark never moves
 * backwards and never passes a number that has not completed.
 */
public final class Watermark {
  private boolean[] ring = new boolean[64]; // guarded by this
  private long through; // guarded by this
  private volatile long published;

  /** A watermark at {@code start}: numbers up to it count as complete. */
  public Watermark(long start) {
    this.through = start;
    this.published = start;
  }

  /** Marks {@code n} complete and returns the watermark after it. Completing twice is harmless. */
  public synchronized long complete(long n) {
    if (n <= through) {
      return through;
    }
    long ahead = n - through;
    if (ahead >= ring.length) {
      grow(ahead);
    }
    ring[(int) (n & (ring.length - 1))] = true;
    int mask = ring.length - 1;
    while (ring[(int) ((through + 1) & mask)]) {
      ring[(int) ((through + 1) & mask)] = false;
      through++;
    }
    published = through;
    return through;
  }

  /** The current watermark. */
  public long through() {
    return published;
  }

  private void grow(long ahead) {
    int size = ring.length;
    while (size <= ahead) {
      size <<= 1;
    }
    boolean[] bigger = new boolean[size];
    int oldMask = ring.length - 1;
    for (long k = through + 1; k < through + ring.length; k++) {
      bigger[(int) (k & (size - 1))] = ring[(int) (k & oldMask)];
    }
    ring = bigger;
  }
}
