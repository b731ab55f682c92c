package dev.engram.core.model;

/** How a space compares vectors. Scores are always "higher is more similar". */
public enum Metric {
  /** Cosine similarity in [-1, 1]; vectors are normalised on the way in. */
  COSINE,
  /** Raw inner product. */
  DOT,
  /** Negated squared Euclidean distance, so that higher is closer. */
  L2
}
