package dev.engram.core.space;

/** What a space did with an episode offered to it. */
public sealed interface Admission {

  /** The episode is stored under a new ordinal and is in the fresh segment. */
  record Accepted(int ordinal, String id) implements Admission {}

  /** An episode with this id is already stored; nothing changed. */
  record Duplicate(int ordinal, String id) implements Admission {}
}
