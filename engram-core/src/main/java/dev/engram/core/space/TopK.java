package dev.engram.core.space;

import dev.engram.core.index.SearchHit;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The {@code k} best hits of an exact scan: offer every candidate, then take them best first.
 *
 * <p>Thread-safety: none; one scan, one thread.
 */
final class TopK {
  private final int k;
  private final float minScore;
  private final PriorityQueue<SearchHit> worstFirst;

  TopK(int k, float minScore) {
    this.k = k;
    this.minScore = minScore;
    this.worstFirst = new PriorityQueue<>(k + 1, (a, b) -> b.compareTo(a));
  }

  /** Keeps the hit if it scores at least {@code minScore} and among the best {@code k} so far. */
  void offer(int ordinal, float score) {
    if (score >= minScore) {
      worstFirst.add(new SearchHit(ordinal, score));
      if (worstFirst.size() > k) {
        worstFirst.poll();
      }
    }
  }

  /** The kept hits, best first. */
  List<SearchHit> best() {
    List<SearchHit> hits = new ArrayList<>(worstFirst);
    hits.sort(null);
    return hits;
  }
}
