package dev.engram.core.model;

import java.time.Duration;
import java.util.Objects;

/**
 * The fixed definition of a memory space: its name, vector dimension, metric, how fast the
 * confidence of its memories decays and, optionally, the server-side embedder that turns its
 * episodes' and cues' text into vectors.
 *
 * @param id the space's name
 * @param dimension the length of every embedding, 1–4096; 0 only with an embedder, meaning "the
 *     embedder's" (the engine fills it in when it creates the space)
 * @param metric how embeddings are compared
 * @param halfLife the time in which an unrecalled memory's confidence halves; zero means no decay
 * @param embedder the name of the server-side embedder; empty for none (clients send vectors)
 */
public record SpaceConfig(
    SpaceId id, int dimension, Metric metric, Duration halfLife, String embedder) {
  public static final int MAX_DIMENSION = 4096;

  /** The longest half-life a space takes (100 years). */
  public static final Duration MAX_HALF_LIFE = Duration.ofDays(36_525);

  public SpaceConfig {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(metric, "metric");
    halfLife = halfLife == null ? Duration.ZERO : halfLife;
    embedder = embedder == null ? "" : embedder;
    if ((dimension < 1 && !(dimension == 0 && !embedder.isEmpty())) || dimension > MAX_DIMENSION) {
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

  /** A space without an embedder (clients send the vectors) whose memories never decay. */
  public SpaceConfig(SpaceId id, int dimension, Metric metric) {
    this(id, dimension, metric, Duration.ZERO, "");
  }

  /** This definition with another half-life (zero: no decay). */
  public SpaceConfig withHalfLife(Duration halfLife) {
    return new SpaceConfig(id, dimension, metric, halfLife, embedder);
  }

  /** This definition with a server-side embedder (empty: none). */
  public SpaceConfig withEmbedder(String embedder) {
    return new SpaceConfig(id, dimension, metric, halfLife, embedder);
  }

  /** This definition with another dimension. */
  public SpaceConfig withDimension(int dimension) {
    return new SpaceConfig(id, dimension, metric, halfLife, embedder);
  }

  /** Whether the server embeds this space's text itself. */
  public boolean hasEmbedder() {
    return !embedder.isEmpty();
  }
}
