package dev.engram.core.model;

import java.util.Objects;

/**
 * What a recall searches with.
 *
 * @param embedding the query vector; empty for a text-only {@link RecallMode#HYBRID} cue
 * @param text the text cue for the lexical index; empty for none
 * @param k how many memories to return, 1–1000
 * @param minScore the lowest vector score returned (use {@code Float.NEGATIVE_INFINITY} for none)
 * @param mode similarity, hybrid or associative
 * @param filter which episodes may be returned
 */
public record Cue(
    float[] embedding, String text, int k, float minScore, RecallMode mode, RecallFilter filter) {
  public static final int MAX_K = 1000;

  public Cue {
    Objects.requireNonNull(embedding, "embedding");
    text = text == null ? "" : text;
    Objects.requireNonNull(mode, "mode");
    filter = filter == null ? RecallFilter.NONE : filter;
    if (k < 1 || k > MAX_K) {
      String problem = "k %d is out of range: 1-%d".formatted(k, MAX_K);
      throw k > MAX_K
          ? new LimitExceededException(Limit.K, problem)
          : new InvalidInputException(problem);
    }
    if (Float.isNaN(minScore)) {
      throw new InvalidInputException("min_score is NaN");
    }
  }

  /** A vector cue without text or filter. */
  public Cue(float[] embedding, int k, float minScore, RecallMode mode) {
    this(embedding, "", k, minScore, mode, RecallFilter.NONE);
  }
}
