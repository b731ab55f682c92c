package dev.engram.core.consolidate;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntPredicate;

/**
 * One space's association graph and memory strengths: for every consolidated episode (by the
 * space's ordinal) a {@link Node} with its weighted edges to other episodes (temporal adjacency,
 * similarity, co-recall), its strength curve and, for a merged near-duplicate, the memory it was
 * merged into.
 *
 * <p>Edges: undirected (each link is written on both ends), at most {@link #MAX_EDGES} per node;
 * adding one more drops the weakest. A weight is in (0, 1]; links of several kinds add up, capped
 * at 1.
 *
 * <p>Confidence: {@code strength × 2^(-(now - reference) / halfLife)} (no decay when the space's
 * half-life is zero). A recall reinforces it: the current value moves {@link #REINFORCE_RATE} of
 * the way to 1 and the reference becomes now. A merge combines two strengths as independent
 * evidence, {@code 1 - (1 - a)(1 - b)}.
 *
 * <p>Concurrency: nodes are immutable records in a {@link ConcurrentHashMap}, replaced whole, so
 * readers (recall) see a consistent node without locking. Every change is made under this object's
 * monitor (the consolidation worker, and forget), so two changes never lose each other's edge.
 * Impossible outcomes: an edge to itself; a node with more than {@link #MAX_EDGES} edges.
 */
public final class Associations {
  /** The most edges one node keeps (the strongest). */
  public static final int MAX_EDGES = 24;

  /** How far a recall moves the current confidence towards 1. */
  public static final float REINFORCE_RATE = 0.25f;

  /** The largest weight an edge reaches by co-recall alone. */
  public static final float MAX_CO_RECALL_WEIGHT = 0.6f;

  /**
   * One consolidated episode.
   *
   * @param neighbours ordinals of linked episodes, parallel to {@code weights}
   * @param weights edge weights in (0, 1]
   * @param strength confidence at {@code referenceMillis}, in [0, 1]
   * @param referenceMillis when {@code strength} was set (epoch millis)
   * @param mergedInto the ordinal of the memory this near-duplicate was merged into, or -1
   * @param aliases ordinals of the near-duplicates merged into this memory
   */
  public record Node(
      int[] neighbours,
      float[] weights,
      float strength,
      long referenceMillis,
      int mergedInto,
      int[] aliases) {

    static Node fresh(float strength, long referenceMillis) {
      return new Node(new int[0], new float[0], strength, referenceMillis, -1, new int[0]);
    }

    /** The weight of the edge to {@code other}, or 0. */
    public float weightTo(int other) {
      for (int i = 0; i < neighbours.length; i++) {
        if (neighbours[i] == other) {
          return weights[i];
        }
      }
      return 0f;
    }

    Node withEdge(int other, float weight, boolean add, float cap) {
      int at = -1;
      for (int i = 0; i < neighbours.length; i++) {
        if (neighbours[i] == other) {
          at = i;
          break;
        }
      }
      if (at >= 0) {
        float[] w = weights.clone();
        w[at] = add ? Math.min(cap, Math.max(w[at], w[at] + weight)) : Math.max(w[at], weight);
        w[at] = Math.min(1f, w[at]);
        return new Node(neighbours, w, strength, referenceMillis, mergedInto, aliases);
      }
      float value = Math.min(1f, Math.min(add ? cap : 1f, weight));
      if (neighbours.length < MAX_EDGES) {
        int[] n = Arrays.copyOf(neighbours, neighbours.length + 1);
        float[] w = Arrays.copyOf(weights, weights.length + 1);
        n[n.length - 1] = other;
        w[w.length - 1] = value;
        return new Node(n, w, strength, referenceMillis, mergedInto, aliases);
      }
      int weakest = 0;
      for (int i = 1; i < weights.length; i++) {
        if (weights[i] < weights[weakest]) {
          weakest = i;
        }
      }
      if (weights[weakest] >= value) {
        return this; // every kept edge is stronger
      }
      int[] n = neighbours.clone();
      float[] w = weights.clone();
      n[weakest] = other;
      w[weakest] = value;
      return new Node(n, w, strength, referenceMillis, mergedInto, aliases);
    }

    Node withoutEdge(int other) {
      for (int i = 0; i < neighbours.length; i++) {
        if (neighbours[i] == other) {
          int[] n = new int[neighbours.length - 1];
          float[] w = new float[weights.length - 1];
          System.arraycopy(neighbours, 0, n, 0, i);
          System.arraycopy(neighbours, i + 1, n, i, n.length - i);
          System.arraycopy(weights, 0, w, 0, i);
          System.arraycopy(weights, i + 1, w, i, w.length - i);
          return new Node(n, w, strength, referenceMillis, mergedInto, aliases);
        }
      }
      return this;
    }

    Node withStrength(float newStrength, long at) {
      return new Node(neighbours, weights, newStrength, at, mergedInto, aliases);
    }
  }

  private final ConcurrentHashMap<Integer, Node> nodes = new ConcurrentHashMap<>();
  private final long halfLifeMillis;
  private volatile int merged; // nodes merged into another memory; written under the monitor

  /** An empty graph; {@code halfLife} zero means confidence never decays. */
  public Associations(Duration halfLife) {
    this.halfLifeMillis = halfLife.toMillis();
  }

  /** The node of a consolidated episode, or null. */
  public Node node(int ordinal) {
    return nodes.get(ordinal);
  }

  /** Whether the episode has been consolidated (and not forgotten). */
  public boolean contains(int ordinal) {
    return nodes.containsKey(ordinal);
  }

  /** How many episodes are consolidated (merged near-duplicates included). */
  public int size() {
    return nodes.size();
  }

  /** How many episodes are merged into another memory (kept as its aliases, out of the index). */
  public int mergedCount() {
    return merged;
  }

  /**
   * The confidence of {@code ordinal} at {@code nowMillis} per the space's curve; {@code fallback}
   * (the episode's stored confidence) for an episode not consolidated yet.
   */
  public float confidence(int ordinal, long nowMillis, float fallback) {
    Node node = nodes.get(ordinal);
    return node == null ? fallback : decayed(node.strength(), node.referenceMillis(), nowMillis);
  }

  /** {@code strength} decayed from {@code referenceMillis} to {@code nowMillis}. */
  public float decayed(float strength, long referenceMillis, long nowMillis) {
    if (halfLifeMillis <= 0 || nowMillis <= referenceMillis) {
      return strength;
    }
    double halfLives = (nowMillis - referenceMillis) / (double) halfLifeMillis;
    return (float) (strength * Math.pow(0.5, halfLives));
  }

  // ---- changes (the consolidation worker, forget, recovery) ----

  /** Adds a node for a newly consolidated episode (no-op if it has one). */
  public synchronized void add(int ordinal, float strength, long referenceMillis) {
    nodes.putIfAbsent(ordinal, Node.fresh(strength, referenceMillis));
  }

  /**
   * Links two consolidated episodes with at least {@code weight} (kept if already stronger).
   *
   * @return whether anything changed
   */
  public synchronized boolean link(int a, int b, float weight) {
    return change(a, b, weight, false, 1f);
  }

  /** Strengthens the edge between two episodes by {@code delta}, up to {@code cap} (Hebbian). */
  public synchronized boolean strengthen(int a, int b, float delta, float cap) {
    return change(a, b, delta, true, cap);
  }

  private boolean change(int a, int b, float weight, boolean add, float cap) {
    if (a == b || weight <= 0f) {
      return false;
    }
    Node na = nodes.get(a);
    Node nb = nodes.get(b);
    if (na == null || nb == null || na.mergedInto() >= 0 || nb.mergedInto() >= 0) {
      return false;
    }
    Node ua = na.withEdge(b, weight, add, cap);
    Node ub = nb.withEdge(a, weight, add, cap);
    nodes.put(a, ua);
    nodes.put(b, ub);
    return ua != na || ub != nb;
  }

  /** Moves the confidence of {@code ordinal} towards 1 after a recall at {@code nowMillis}. */
  public synchronized void reinforce(int ordinal, long nowMillis) {
    Node node = nodes.get(ordinal);
    if (node == null) {
      return;
    }
    float current = decayed(node.strength(), node.referenceMillis(), nowMillis);
    nodes.put(ordinal, node.withStrength(current + (1f - current) * REINFORCE_RATE, nowMillis));
  }

  /**
   * Merges the near-duplicate {@code duplicate} into the memory {@code into}: the memory's
   * confidence rises ({@code 1 - (1 - a)(1 - b)}), it lists the duplicate as an alias, and the
   * duplicate keeps only a pointer to it (its edges move to the memory).
   *
   * @return false if either is gone or already merged
   */
  public synchronized boolean merge(int duplicate, int into, long nowMillis) {
    Node dup = nodes.get(duplicate);
    Node target = nodes.get(into);
    if (dup == null || target == null || dup.mergedInto() >= 0 || target.mergedInto() >= 0) {
      return false;
    }
    float a = decayed(target.strength(), target.referenceMillis(), nowMillis);
    float b = decayed(dup.strength(), dup.referenceMillis(), nowMillis);
    int[] aliases = Arrays.copyOf(target.aliases(), target.aliases().length + 1);
    aliases[aliases.length - 1] = duplicate;
    nodes.put(
        into,
        new Node(
            target.neighbours(),
            target.weights(),
            1f - (1f - a) * (1f - b),
            nowMillis,
            -1,
            aliases));
    for (int i = 0; i < dup.neighbours().length; i++) {
      int other = dup.neighbours()[i];
      Node n = nodes.get(other);
      if (n != null) {
        nodes.put(other, n.withoutEdge(duplicate));
      }
      change(into, other, dup.weights()[i], false, 1f);
    }
    nodes.put(duplicate, new Node(new int[0], new float[0], b, nowMillis, into, new int[0]));
    merged++;
    return true;
  }

  /**
   * Removes a forgotten episode and every edge to it.
   *
   * @return the ordinals whose nodes changed (the neighbours), to persist
   */
  public synchronized List<Integer> remove(int ordinal) {
    Node node = nodes.remove(ordinal);
    List<Integer> changed = new ArrayList<>();
    if (node == null) {
      return changed;
    }
    if (node.mergedInto() >= 0) {
      merged--;
    }
    for (int other : node.neighbours()) {
      Node n = nodes.get(other);
      if (n != null) {
        nodes.put(other, n.withoutEdge(ordinal));
        changed.add(other);
      }
    }
    if (node.mergedInto() >= 0) {
      Node target = nodes.get(node.mergedInto());
      if (target != null) {
        int[] aliases = Arrays.stream(target.aliases()).filter(a -> a != ordinal).toArray();
        nodes.put(
            node.mergedInto(),
            new Node(
                target.neighbours(),
                target.weights(),
                target.strength(),
                target.referenceMillis(),
                -1,
                aliases));
        changed.add(node.mergedInto());
      }
    }
    return changed;
  }

  /**
   * Recovery only: puts back a stored node, keeping only edges and aliases to episodes that {@code
   * live} accepts.
   */
  public synchronized void restore(int ordinal, Node node, IntPredicate live) {
    int[] n = new int[node.neighbours().length];
    float[] w = new float[n.length];
    int kept = 0;
    for (int i = 0; i < n.length; i++) {
      if (live.test(node.neighbours()[i]) && node.neighbours()[i] != ordinal) {
        n[kept] = node.neighbours()[i];
        w[kept++] = node.weights()[i];
      }
    }
    int[] aliases = Arrays.stream(node.aliases()).filter(live).toArray();
    int mergedInto =
        node.mergedInto() >= 0 && live.test(node.mergedInto()) ? node.mergedInto() : -1;
    Node previous =
        nodes.put(
            ordinal,
            new Node(
                Arrays.copyOf(n, kept),
                Arrays.copyOf(w, kept),
                node.strength(),
                node.referenceMillis(),
                mergedInto,
                aliases));
    merged += (mergedInto >= 0 ? 1 : 0) - (previous != null && previous.mergedInto() >= 0 ? 1 : 0);
  }
}
