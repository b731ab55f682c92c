package dev.engram.core.recall;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reciprocal rank fusion: each ranking (best first) gives an item {@code 1 / (K + rank)}, rank
 * counted from 1; an item's fused score is the sum over the rankings that hold it. It needs no
 * score calibration between a cosine and a BM25 list, only their orders.
 *
 * <p>Ties (same fused score) go to the item with the better single rank, then the lower ordinal, so
 * the order is deterministic.
 *
 * <p>Thread-safety: stateless.
 */
public final class RankFusion {
  /** The rank offset: 60, the value of the original paper (Cormack et al., 2009). */
  public static final int K = 60;

  /** How deep each ranking is searched for a fused top {@code k}. */
  public static int depth(int k) {
    return Math.max(k, 50);
  }

  /**
   * One fused item.
   *
   * @param ordinal the episode's ordinal
   * @param score the sum of {@code 1 / (K + rank)} over the rankings that hold it
   */
  public record Fused(int ordinal, float score) {}

  private RankFusion() {}

  /** The best {@code k} items of the fused rankings, best first. */
  public static List<Fused> fuse(List<int[]> rankings, int k) {
    Map<Integer, double[]> scores = new HashMap<>(); // ordinal -> {score, best rank}
    for (int[] ranking : rankings) {
      for (int i = 0; i < ranking.length; i++) {
        int rank = i + 1;
        double[] s = scores.computeIfAbsent(ranking[i], o -> new double[] {0, Double.MAX_VALUE});
        s[0] += 1.0 / (K + rank);
        s[1] = Math.min(s[1], rank);
      }
    }
    List<Map.Entry<Integer, double[]>> all = new ArrayList<>(scores.entrySet());
    all.sort(
        (a, b) -> {
          int c = Double.compare(b.getValue()[0], a.getValue()[0]);
          if (c != 0) {
            return c;
          }
          c = Double.compare(a.getValue()[1], b.getValue()[1]);
          return c != 0 ? c : Integer.compare(a.getKey(), b.getKey());
        });
    List<Fused> out = new ArrayList<>(Math.min(k, all.size()));
    for (int i = 0; i < all.size() && i < k; i++) {
      out.add(new Fused(all.get(i).getKey(), (float) all.get(i).getValue()[0]));
    }
    return out;
  }
}
