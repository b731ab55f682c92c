package dev.engram.core.model;

/** How a recall ranks memories. */
public enum RecallMode {
  /** By vector similarity (and confidence). */
  SIMILARITY,
  /** Similarity, then activation spread over association edges. */
  ASSOCIATIVE
}
