package dev.engram.core.model;

import java.util.Objects;

/**
 * The fixed definition of a memory space: its name, vector dimension, metric and, optionally, the
 * server-side embedder that turns its episodes' and cues' text into vectors.
 *
 * @param id the space's name
 * @param dimension the length of every embedding, 1–4096
 * @param metric how embeddings are compared
 * @param embedder the name of the server-side embedder; empty for none (clients send vectors)
 */
public record SpaceConfig(SpaceId id, int dimension, Metric metric, String embedder) {
  public static final int MAX_DIMENSION = 4096;

  public SpaceConfig {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(metric, "metric");
    embedder = embedder == null ? "" : embedder;
    if (dimension < 1 || dimension > MAX_DIMENSION) {
      throw new InvalidInputException(
          "dimension %d is out of range: a space's dimension is 1-%d"
              .formatted(dimension, MAX_DIMENSION));
    }
  }

  /** A space without an embedder: clients send the vectors. */
  public SpaceConfig(SpaceId id, int dimension, Metric metric) {
    this(id, dimension, metric, "");
  }

  /** Whether the server embeds this space's text itself. */
  public boolean hasEmbedder() {
    return !embedder.isEmpty();
  }
}
