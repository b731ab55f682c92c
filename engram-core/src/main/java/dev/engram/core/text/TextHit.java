package dev.engram.core.text;

import java.util.Comparator;

/**
 * One lexical match: an episode's ordinal and its BM25 score (higher is better).
 *
 * @param ordinal the episode's ordinal in its space
 * @param score the BM25 score
 */
public record TextHit(int ordinal, float score) {
  /** Lowest score first; on a tie, the later ordinal first (so the earlier one ranks higher). */
  static final Comparator<TextHit> WORST_FIRST =
      Comparator.comparingDouble(TextHit::score)
          .thenComparing(Comparator.comparingInt(TextHit::ordinal).reversed());
}
