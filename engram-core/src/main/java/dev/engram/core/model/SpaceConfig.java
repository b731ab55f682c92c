package dev.engram.core.model;

import java.time.Duration;
import java.util.Objects;

/**
 * The fixed definition of a memory space: its name, vector dimension, metric and how fast the
 * confidence of its memories decays.
 *
 * @param id the space's name
 * @param dimension the length of every embedding, 1–4096
 * @param metric how embeddings are compared
 * @param halfLife the time in which an unrecalled memory's confidence halves; zero means no decay
 */
public record SpaceConfig(SpaceId id, int dimension, Metric metric, Duration halfLife) {
  public static final int MAX_DIMENSION = 4096;

  /** The longest half-life a space takes (100 years). */
  public static final Duration MAX_HALF_LIFE = Duration.ofDays(36_525);

  public SpaceConfig {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(metric, "metric");
    halfLife = halfLife == null ? Duration.ZERO : halfLife;
    if (dimension < 1 || dimension > MAX_DIMENSION) {
      throw new InvalidInputException(
          "dimension %d is out of range: a space's dimension is 1-%d"
              .formatted(dimension, MAX_DIMENSION));
    }
    if (halfLife.isNegative() || halfLife.compareTo(MAX_HALF_LIFE) > 0) {
      throw new InvalidInputException(
          "half_life_seconds %d is out of range: use 0 (no decay) to %d"
              .formatted(halfLife.toSeconds(), MAX_HALF_LIFE.toSeconds()));
    }
  }

  /** A space whose memories never decay. */
  public SpaceConfig(SpaceId id, int dimension, Metric metric) {
    this(id, dimension, metric, Duration.ZERO);
  }
}
