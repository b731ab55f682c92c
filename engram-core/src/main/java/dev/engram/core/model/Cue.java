package dev.engram.core.model;

import java.util.Objects;

/**
 * What a recall searches with.
 *
 * @param embedding the query vector
 * @param k how many memories to return, 1–1000
 * @param minScore the lowest score returned (use {@code Float.NEGATIVE_INFINITY} for none)
 * @param mode similarity only, or associative (spreading activation)
 */
public record Cue(float[] embedding, int k, float minScore, RecallMode mode) {
  public static final int MAX_K = 1000;

  public Cue {
    Objects.requireNonNull(embedding, "embedding");
    Objects.requireNonNull(mode, "mode");
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
}
