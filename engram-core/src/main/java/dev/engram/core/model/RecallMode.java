package dev.engram.core.model;

/** How a recall ranks memories. */
public enum RecallMode {
  /** By vector similarity (exact-kNN-equivalent). */
  SIMILARITY,
  /** Similarity, then activation spread over association edges. */
  ASSOCIATIVE,
  /**
   * Vector similarity and BM25 over the episodes' text, fused by reciprocal rank; a text cue, a
   * vector cue or both.
   */
  HYBRID
}
