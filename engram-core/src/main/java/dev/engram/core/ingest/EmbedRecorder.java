package dev.engram.core.ingest;

import dev.engram.core.model.Episode;
import dev.engram.core.space.MemorySpace;

/**
 * Where the embed stage stores the vector it made for a text-only episode, so that a restart does
 * not embed it again. The write need not be synced: an episode whose vector is lost is embedded
 * again at the next start.
 *
 * <p>Thread-safety: called from the embed stage's threads; implementations must be thread-safe.
 */
@FunctionalInterface
public interface EmbedRecorder {

  /** Stores {@code episode} (now with its vector) under {@code ordinal} unless it was forgotten. */
  void embedded(MemorySpace space, int ordinal, Episode episode);

  /** Nothing to store: an in-memory engine. */
  EmbedRecorder IN_MEMORY = (space, ordinal, episode) -> {};
}
