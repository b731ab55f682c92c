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
    return fuse(rankings, k, K);
  }

  /** As {@link #fuse(List, int)} with rank offset {@code rrfK}. */
  public static List<Fused> fuse(List<int[]> rankings, int k, int rrfK) {
    Map<Integer, double[]> scores = new HashMap<>(); // ordinal -> {score, best rank}
    for (int[] ranking : rankings) {
      for (int i = 0; i < ranking.length; i++) {
        int rank = i + 1;
        double[] s = scores.computeIfAbsent(ranking[i], o -> new double[] {0, Double.MAX_VALUE});
        s[0] += 1.0 / (rrfK + rank);
        s[1] = Math.min(s[1], rank);
      }
    }
    return best(scores, k);
  }

  /**
   * Weighted score fusion: each ranking's scores (best first) are scaled to [0, 1] by its own best
   * and worst score (a ranking whose scores are all equal scales to 1), multiplied by the ranking's
   * weight and summed per item; an item missing from a ranking gets 0 from it. Ties as in {@link
   * #fuse(List, int)}.
   *
   * @param ordinals per ranking, the items, best first
   * @param scores per ranking, the items' scores, in the same order (higher is better)
   * @param weights per ranking, its weight
   */
  public static List<Fused> weighted(
      List<int[]> ordinals, List<float[]> scores, float[] weights, int k) {
    return weighted(ordinals, scores, weights, k, true);
  }

  /**
   * As {@link #weighted(List, List, float[], int)}; with {@code minMax} false each ranking's scores
   * are divided by its best score instead (scores must then be positive).
   */
  public static List<Fused> weighted(
      List<int[]> ordinals, List<float[]> scores, float[] weights, int k, boolean minMax) {
    Map<Integer, double[]> fused = new HashMap<>(); // ordinal -> {score, best rank}
    for (int r = 0; r < ordinals.size(); r++) {
      int[] items = ordinals.get(r);
      float[] s = scores.get(r);
      if (items.length == 0) {
        continue;
      }
      float hi = s[0];
      float lo = s[0];
      for (float x : s) {
        hi = Math.max(hi, x);
        lo = Math.min(lo, x);
      }
      double floor = minMax ? lo : 0;
      double range = hi - floor;
      for (int i = 0; i < items.length; i++) {
        double scaled = range > 0 ? (s[i] - floor) / range : 1.0;
        double[] f = fused.computeIfAbsent(items[i], o -> new double[] {0, Double.MAX_VALUE});
        f[0] += weights[r] * scaled;
        f[1] = Math.min(f[1], i + 1);
      }
    }
    return best(fused, k);
  }

  private static List<Fused> best(Map<Integer, double[]> scores, int k) {
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
