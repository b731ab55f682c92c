package dev.engram.core.model;

import java.util.List;

/**
 * One recalled episode with its score.
 *
 * @param episode the stored episode
 * @param score similarity to the cue (associative recall: the combined score), higher is closer
 * @param confidence the episode's current confidence
 * @param explanation why an associative recall returned it; null for other modes
 * @param aliases ids of the near-duplicates consolidation merged into this memory (empty if none)
 */
public record Memory(
    Episode episode, float score, float confidence, Explanation explanation, List<String> aliases) {

  public Memory {
    aliases = aliases == null ? List.of() : List.copyOf(aliases);
  }

  /** A memory without explanation or aliases (similarity recall). */
  public Memory(Episode episode, float score, float confidence) {
    this(episode, score, confidence, null, List.of());
  }
}
