package dev.engram.core.index;

/** One result of a vector search: the ordinal and its score (higher is more similar). */
public record SearchHit(int ordinal, float score) implements Comparable<SearchHit> {

  /** Orders by descending score, then ascending ordinal, so results are deterministic. */
  @Override
  public int compareTo(SearchHit other) {
    int byScore = Float.compare(other.score, score);
    return byScore != 0 ? byScore : Integer.compare(ordinal, other.ordinal);
  }
}
