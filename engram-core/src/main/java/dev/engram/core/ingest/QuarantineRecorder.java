package dev.engram.core.ingest;

import dev.engram.core.space.MemorySpace;

/**
 * Where the supervisor records, durably, that it quarantined an episode, so that a restart keeps it
 * quarantined instead of indexing it again.
 *
 * <p>Thread-safety: called from the supervisor (a dying worker's thread), concurrently for
 * different episodes; implementations must be thread-safe. They may block for a write.
 */
@FunctionalInterface
public interface QuarantineRecorder {

  /**
   * Records that {@code space}'s episode {@code episodeId} under {@code ordinal} is quarantined.
   *
   * @throws RuntimeException if it could not be recorded (the supervisor logs it; the episode is
   *     then retried under supervision at the next start)
   */
  void quarantined(MemorySpace space, int ordinal, String episodeId, String reason);

  /** Nothing to record: an in-memory engine. */
  QuarantineRecorder IN_MEMORY = (space, ordinal, episodeId, reason) -> {};
}
