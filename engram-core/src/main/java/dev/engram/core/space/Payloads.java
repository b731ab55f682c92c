package dev.engram.core.space;

import dev.engram.core.model.Episode;

/**
 * Where a memory space keeps its episodes' payloads (content and metadata). {@link MemorySpace}
 * keeps only what ranking, filters and the pipeline need on every call (see {@link EpisodeHead});
 * the payload is read back through this when a recall returns an episode, a metadata filter tests
 * one, or consolidation compares two near-duplicates' text.
 *
 * <p>With a data directory the store's record is the payload ({@code
 * dev.engram.core.storage.DurableStore} reads it through a bounded cache); without one {@link
 * #onHeap} keeps it in a map, since nothing else could give it back.
 *
 * <p>Thread-safety: implementations are safe for concurrent calls from any thread.
 */
public interface Payloads {
  /**
   * An episode was stored under {@code ordinal} (published, or restored on recovery). A store that
   * already holds the record (written before publication) does nothing.
   */
  void stored(int ordinal, Episode episode);

  /**
   * The payload of the episode stored under {@code ordinal} with {@code id}, or null if it is gone
   * (forgotten meanwhile).
   */
  Payload read(int ordinal, String id);

  /** The episode under {@code ordinal} is gone (forgotten, dropped, its space deleted). */
  void removed(int ordinal);

  /** Payloads kept in a map on the heap: for spaces without a store (tests, embedded use). */
  static Payloads onHeap() {
    return new HeapPayloads();
  }
}
