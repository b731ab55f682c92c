package dev.engram.core.ingest;

/**
 * Told what became of an accepted episode once an index worker is done with it.
 *
 * <p>Thread-safety: called from index worker threads, concurrently for different tasks;
 * implementations must be thread-safe and must not block.
 */
public interface IndexCallback {

  /** The episode accepted under {@code sequence} is now in the vector index (or was skipped). */
  void indexed(long sequence);

  /**
   * The consolidation worker is done with the episode accepted under {@code sequence} (its edges
   * are durable), or the episode needs no consolidation (a duplicate, rejected, or its space
   * deleted). Called from the consolidation worker or an index worker.
   */
  default void consolidated(long sequence) {}

  /** The episode accepted under {@code sequence} killed a worker twice and was dropped. */
  void quarantined(long sequence, String episodeId, String reason);

  /** A callback that ignores both outcomes. */
  IndexCallback NONE =
      new IndexCallback() {
        @Override
        public void indexed(long sequence) {}

        @Override
        public void quarantined(long sequence, String episodeId, String reason) {}
      };
}
