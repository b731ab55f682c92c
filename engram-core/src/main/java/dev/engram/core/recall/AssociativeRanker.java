package dev.engram.core.recall;

import dev.engram.core.consolidate.Associations;
import dev.engram.core.index.SearchHit;
import dev.engram.core.model.Cue;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Explanation;
import dev.engram.core.model.Memory;
import dev.engram.core.space.EpisodeHead;
import dev.engram.core.space.MemorySpace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * {@code ASSOCIATIVE} recall: seeds, then spreading activation over the space's association graph,
 * combined with confidence and recency. The knobs are {@link RecallTuning}'s.
 *
 * <p>Seeds: {@link #seeds} (the cue's hybrid ranking, {@code max(minSeeds, 2k)} deep). A seed's
 * activation is its score (at least 0). Spreading: breadth first, at most {@code hops} hops; from
 * each node the {@link #FAN_OUT} strongest edges; activation over an edge is {@code a × weight ×
 * hopDecay}. With {@link RecallTuning.Spread#MAX} a node keeps the highest activation that reaches
 * it (its own or a spread); with {@link RecallTuning.Spread#ADD} it keeps its own and adds the
 * strongest spread that reaches it. At most {@link #MAX_VISITED} nodes are visited, so a recall is
 * bounded whatever the graph.
 *
 * <p>Score: {@code activation × (1 - cw + cw × confidence) + rw × recency}, where recency is {@code
 * 1 / (1 + days older than the newest candidate)}, {@code cw} the confidence weight and {@code rw}
 * the recency weight. Each memory carries an {@link Explanation} of these signals.
 *
 * <p>Thread-safety: stateless; reads the graph's immutable nodes without locking.
 */
final class AssociativeRanker {
  static final int SEED_FACTOR = 2;
  static final int FAN_OUT = 16;
  static final int MAX_VISITED = 512;
  private static final double DAY_MILLIS = 86_400_000d;

  private AssociativeRanker() {}

  private static final class Candidate {
    final int ordinal;
    final EpisodeHead episode;
    int seedRank;
    float seedScore;
    float own; // the seed's activation; 0 for a node reached by spreading only
    float arrived; // the strongest activation that reached it over edges
    float activation;
    int hops;
    float confidence;
    float recency;
    float score;

    Candidate(int ordinal, EpisodeHead episode) {
      this.ordinal = ordinal;
      this.episode = episode;
    }

    void settle(RecallTuning.Spread spread) {
      activation = spread == RecallTuning.Spread.ADD ? own + arrived : Math.max(own, arrived);
    }

    /** What this node passes on over its edges. */
    float source(RecallTuning.Spread spread) {
      return spread == RecallTuning.Spread.ADD ? (seedRank > 0 ? own : arrived) : activation;
    }
  }

  /**
   * The seeds of an associative recall, best first: the cue's hybrid ranking ({@link
   * Recaller#ranked}: vector and BM25 fused, or whichever of the two the cue carries). With text in
   * the ranking, scores are scaled so that the best seed has 1 (fused and BM25 scores are not on
   * the similarity scale the activation is read on).
   */
  static List<SearchHit> seeds(MemorySpace space, Cue cue, IntPredicate accept, RecallTuning t) {
    int n = Math.max(t.minSeeds(), SEED_FACTOR * cue.k());
    List<SearchHit> hits = Recaller.ranked(space, cue, n, accept, t);
    if (cue.text().isBlank() || hits.isEmpty() || hits.getFirst().score() <= 0f) {
      return hits;
    }
    float best = hits.getFirst().score();
    List<SearchHit> scaled = new ArrayList<>(hits.size());
    for (SearchHit h : hits) {
      scaled.add(new SearchHit(h.ordinal(), h.score() / best));
    }
    return scaled;
  }

  static List<Memory> recall(
      MemorySpace space, Cue cue, IntPredicate accept, long nowMillis, RecallTuning t) {
    Associations graph = space.associations();
    RecallTuning.Spread spread = t.spread();
    Map<Integer, Candidate> candidates = new HashMap<>();
    List<Candidate> frontier = new ArrayList<>();
    int rank = 0;
    for (SearchHit hit : seeds(space, cue, accept, t)) {
      rank++;
      int ordinal = canonical(graph, hit.ordinal());
      EpisodeHead episode = space.head(ordinal);
      if (episode == null) {
        continue;
      }
      Candidate c = candidates.get(ordinal);
      float activation = Math.max(0f, hit.score());
      if (c == null) {
        c = new Candidate(ordinal, episode);
        c.seedRank = rank;
        c.seedScore = hit.score();
        c.own = activation;
        c.settle(spread);
        candidates.put(ordinal, c);
        frontier.add(c);
      } else if (activation > c.own) {
        c.own = activation;
        c.settle(spread);
      }
    }
    for (int hop = 1; hop <= t.hops() && !frontier.isEmpty(); hop++) {
      List<Candidate> next = new ArrayList<>();
      for (Candidate from : frontier) {
        Associations.Node node = graph.node(from.ordinal);
        float source = from.source(spread);
        if (node == null || source <= 0f) {
          continue;
        }
        int[] edges = strongest(node, t.maxEdgeWeight());
        for (int i : edges) {
          if (node.weights()[i] > t.maxEdgeWeight()) {
            continue;
          }
          int to = node.neighbours()[i];
          float arriving = source * node.weights()[i] * t.hopDecay();
          Candidate c = candidates.get(to);
          if (c == null) {
            if (candidates.size() >= MAX_VISITED) {
              break;
            }
            EpisodeHead episode = space.head(to);
            if (episode == null || !accept.test(to)) {
              continue; // forgotten, or outside the cue's filter
            }
            c = new Candidate(to, episode);
            candidates.put(to, c);
            next.add(c);
          }
          if (arriving > c.arrived) {
            c.arrived = arriving;
            float before = c.activation;
            c.settle(spread);
            if (c.activation > before) {
              c.hops = hop; // its activation came (in part) over edges
            }
          }
        }
      }
      frontier = next;
    }
    long newest = Long.MIN_VALUE;
    for (Candidate c : candidates.values()) {
      newest = Math.max(newest, c.episode.observedMillis());
    }
    List<Candidate> ranked = new ArrayList<>(candidates.values());
    float cw = t.confidenceWeight();
    for (Candidate c : ranked) {
      c.confidence = graph.confidence(c.ordinal, nowMillis, c.episode.confidence());
      double ageDays = (newest - c.episode.observedMillis()) / DAY_MILLIS;
      c.recency = (float) (1.0 / (1.0 + ageDays));
      c.score = c.activation * (1f - cw + cw * c.confidence) + t.recencyWeight() * c.recency;
    }
    ranked.sort(
        (a, b) -> {
          int byScore = Float.compare(b.score, a.score);
          return byScore != 0 ? byScore : a.episode.id().compareTo(b.episode.id());
        });
    int n = Math.min(cue.k(), ranked.size());
    List<Memory> out = new ArrayList<>(n);
    for (Candidate c : ranked) {
      if (out.size() == n) {
        break;
      }
      Episode episode = space.episodeAt(c.ordinal); // the payload, for the k it returns
      if (episode == null) {
        continue; // forgotten during the recall
      }
      out.add(
          new Memory(
              episode,
              c.score,
              c.confidence,
              new Explanation(
                  c.seedRank, c.seedScore, c.activation, c.hops, c.confidence, c.recency),
              aliases(space, graph.node(c.ordinal))));
    }
    return out;
  }

  /** The ordinal of the memory a merged near-duplicate belongs to (itself if not merged). */
  private static int canonical(Associations graph, int ordinal) {
    Associations.Node node = graph.node(ordinal);
    return node != null && node.mergedInto() >= 0 ? node.mergedInto() : ordinal;
  }

  /**
   * Indexes of the node's {@link #FAN_OUT} strongest edges of weight at most {@code cap} (ties: the
   * first ones).
   */
  private static int[] strongest(Associations.Node node, float cap) {
    float[] w = node.weights();
    if (cap < 1f) {
      w = w.clone();
      for (int i = 0; i < w.length; i++) {
        if (w[i] > cap) {
          w[i] = 0f; // never above the threshold below, never taken as a tie
        }
      }
    }
    int n = w.length;
    int[] out = new int[Math.min(n, FAN_OUT)];
    if (n <= FAN_OUT) {
      for (int i = 0; i < n; i++) {
        out[i] = i;
      }
      return out;
    }
    float[] sorted = w.clone();
    java.util.Arrays.sort(sorted);
    float threshold = sorted[n - FAN_OUT]; // the FAN_OUT-th largest
    int k = 0;
    for (int i = 0; i < n && k < out.length; i++) {
      if (w[i] > threshold) {
        out[k++] = i;
      }
    }
    for (int i = 0; i < n && k < out.length; i++) {
      if (w[i] == threshold) {
        out[k++] = i;
      }
    }
    return out;
  }

  static List<String> aliases(MemorySpace space, Associations.Node node) {
    if (node == null || node.aliases().length == 0) {
      return List.of();
    }
    List<String> ids = new ArrayList<>(node.aliases().length);
    for (int alias : node.aliases()) {
      EpisodeHead e = space.head(alias);
      if (e != null) {
        ids.add(e.id());
      }
    }
    return ids;
  }
}
