package dev.engram.core.model;

import java.util.Objects;

/**
 * The fixed definition of a memory space: its name, vector dimension and metric.
 *
 * @param id the space's name
 * @param dimension the length of every embedding, 1–4096
 * @param metric how embeddings are compared
 */
public record SpaceConfig(SpaceId id, int dimension, Metric metric) {
  public static final int MAX_DIMENSION = 4096;

  public SpaceConfig {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(metric, "metric");
    if (dimension < 1 || dimension > MAX_DIMENSION) {
      throw new InvalidInputException(
          "dimension %d is out of range: a space's dimension is 1-%d"
              .formatted(dimension, MAX_DIMENSION));
    }
  }
}
