package dev.engram.core.space;

/** What a space did with an episode offered to it. */
public sealed interface Admission {

  /**
   * The episode has a new ordinal: stored and in the fresh segment ({@link MemorySpace#admit}), or
   * reserved until published ({@link MemorySpace#reserve}).
   */
  record Accepted(int ordinal, String id) implements Admission {}

  /** An episode with this id is already stored (or reserved); nothing changed. */
  record Duplicate(int ordinal, String id) implements Admission {}
}
