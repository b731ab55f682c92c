package dev.engram.core.index;

import dev.engram.core.model.Metric;
import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntPredicate;

/**
 * Hierarchical navigable small-world graph (Malkov &amp; Yashunin, 2016) for approximate k-NN
 * search under {@link Metric#COSINE}, {@link Metric#DOT} and {@link Metric#L2}, with concurrent
 * inserts, searches and removals.
 *
 * <p>Layout: nodes live in chunks of {@value ChunkTable#SIZE} ordinals. A chunk holds the vectors
 * contiguously ({@code float[SIZE * dimension]}), the layer-0 neighbour lists contiguously ({@code
 * int[SIZE * (1 + 2m)]}, a count then the ids), a state word per node (claimed, linked, deleted
 * flags and the node's level) and, for the few nodes above layer 0, one {@code int[]} holding all
 * their upper-layer lists. No object per vector; ordinals may arrive in any order.
 *
 * <p>Scores: for the inner-product metrics ({@link Metric#COSINE}, {@link Metric#DOT}) each chunk
 * also keeps an int8 code of every vector ({@code byte[SIZE * dimension]} and one scale per node,
 * {@link VectorMath#quantizeInto}). The graph walks of inserts and searches rank by the float query
 * against those codes, a quarter of the memory traffic of the floats; the candidates a walk ends
 * with are re-scored from the float vectors before anything is chosen or returned (neighbour
 * selection, pruning and repair use float scores only), so scores returned are exact. {@link
 * Metric#L2} walks on the floats.
 *
 * <p>Concurrency:
 *
 * <ul>
 *   <li>A node's neighbour lists (every layer) are written only while holding the node's lock
 *       stripe ({@code locks[ordinal & (STRIPES - 1)]}); a thread holds at most one stripe at a
 *       time, so there is no lock ordering and no deadlock. There is no global lock: an insert
 *       locks only the few nodes it links to, one at a time.
 *   <li>Readers (searches, and the graph walks of inserts) take no lock. Writers store each id with
 *       release semantics and then the count with release semantics; readers load the count and ids
 *       with acquire semantics. A reader racing a rewrite may see a mix of the old and new list —
 *       harmless for a heuristic graph — but every id it sees belongs to a node whose vector and
 *       lists were fully written before that id was first stored anywhere (vector first, then the
 *       node's own lists, then the back-links), so it never reads a half-written vector.
 *   <li>An insert first searches every layer from the top down, then links from layer 0 upwards: a
 *       node becomes reachable on a layer only after its lists on every lower layer are written, so
 *       a concurrent insert descending through it never lands on an empty layer-0 list.
 *   <li>The entry point is an immutable {@code (node, level)} pair in an {@link AtomicReference},
 *       set from empty and raised to a higher level only by compare-and-set after the new node is
 *       fully linked.
 *   <li>Each ordinal's state word changes only by CAS: exactly one {@link #add} claims an ordinal
 *       (a duplicate is rejected, never half-inserted), the same add sets {@code LINKED} when it is
 *       done (only then is the ordinal present: {@link #contains}, search results, snapshots), and
 *       exactly one {@link #remove} of a linked ordinal sets its tombstone. An add that throws
 *       after its claim sets {@code ABORTED} instead; a later add may claim it again. Searches skip
 *       tombstoned, aborted and unfinished nodes when collecting results but still route through
 *       them; inserts never choose tombstoned or aborted nodes as neighbours.
 *   <li>{@link #repair} (at most one at a time, guarded by an {@link AtomicBoolean}; started on a
 *       background thread by the {@link #remove} that crosses the repair fraction) rewrites, under
 *       each live node's stripe, every list that points at a tombstone, replacing it with the
 *       tombstone's live neighbours chosen by the same heuristic; it also moves a tombstoned entry
 *       point. It runs concurrently with inserts and searches.
 * </ul>
 *
 * <p>Impossible outcomes: a search returning an ordinal whose {@link #remove} completed before the
 * search started; the same ordinal inserted twice; a reader observing a node id whose vector is not
 * yet written; an ordinal whose insert has not finished (or failed) counted as present or returned.
 * Possible and accepted: a search missing an insert that runs concurrently with it; a reader
 * routing through an aborted node while its retried insert rewrites the same vector; two nodes that
 * raise the graph's top level at the same moment not being linked to each other on the new top
 * layers (one of them becomes the entry point; both remain reachable from layer {@code old top}
 * down).
 *
 * <p>Thread-safety: all methods may be called concurrently from any thread.
 */
public final class HnswIndex implements VectorIndex {
  private static final int CLAIMED = SlotStates.CLAIMED;
  private static final int LINKED = 2;
  private static final int DELETED = SlotStates.DELETED;
  private static final int ABORTED = 8;
  private static final int DEAD = DELETED | ABORTED;
  private static final int LEVEL_SHIFT = 8;
  private static final int MAX_LEVEL = 15;
  private static final int STRIPES = 4096;
  private static final long DEFAULT_SEED = 0x5EEDL;
  private static final VarHandle INTS = SlotStates.INTS;
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final int dimension;
  private final Metric metric;
  private final boolean quantized; // int8 codes beside the floats (inner-product metrics)
  private final HnswParams params;
  private final long seed;
  private final int m;
  private final int maxDegree0;
  private final int stride0;
  private final int strideUpper;
  private final double levelMultiplier;
  private final ChunkTable<Chunk> chunks;
  private final Object[] locks = new Object[STRIPES];
  private final AtomicReference<Entry> entry = new AtomicReference<>();
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicInteger nodes = new AtomicInteger();
  private final AtomicInteger highWater = new AtomicInteger();
  private final AtomicInteger unrepaired = new AtomicInteger();
  private final AtomicLong upperBytes = new AtomicLong();
  private final AtomicBoolean repairing = new AtomicBoolean();
  private final Object repairDone = new Object(); // notified when repairing is cleared
  private final InsertProbe probe; // null: none (production)

  /**
   * Test-only hook inside {@link #add}, called at each {@link Stage} of an insert after the ordinal
   * is claimed: a throw there leaves a partial insert (claimed; at {@link Stage#LAYER0_LINKED} also
   * reachable from its neighbours), which {@link #add} must undo so the ordinal stays absent and
   * the insert can be retried. Production indexes have none; the check is one null test per stage.
   */
  @FunctionalInterface
  public interface InsertProbe {
    /** Where an insert is. */
    enum Stage {
      /** Claimed and its vector written; not linked. */
      CLAIMED,
      /** Its layer-0 list and the back-links to it written; upper layers and entry point not. */
      LAYER0_LINKED
    }

    /** Called on the inserting thread; throwing fails the insert. */
    void reached(Stage stage, int ordinal, float[] vector);
  }

  private record Entry(int node, int level) {}

  private static final class Chunk {
    final float[] vectors;
    final byte[] codes; // null without quantisation
    final float[] codeScales;
    final int[] links0;
    final int[] state = new int[ChunkTable.SIZE];
    final int[][] upper = new int[ChunkTable.SIZE][];

    Chunk(int dimension, int stride0, boolean quantized) {
      vectors = new float[ChunkTable.SIZE * dimension];
      codes = quantized ? new byte[ChunkTable.SIZE * dimension] : null;
      codeScales = quantized ? new float[ChunkTable.SIZE] : null;
      links0 = new int[ChunkTable.SIZE * stride0];
    }

    /** Writes the int8 code of the float vector in {@code slot}, if this chunk keeps codes. */
    void encode(int slot, int dimension) {
      if (codes != null) {
        int offset = slot * dimension;
        codeScales[slot] = VectorMath.quantizeInto(vectors, offset, codes, offset, dimension);
      }
    }
  }

  /** An empty index with the default level seed. */
  public HnswIndex(int dimension, Metric metric, HnswParams params) {
    this(dimension, metric, params, DEFAULT_SEED);
  }

  /**
   * An empty index. A node's level is a function of {@code seed} and its ordinal only, so the layer
   * structure does not depend on thread timing.
   */
  public HnswIndex(int dimension, Metric metric, HnswParams params, long seed) {
    this(dimension, metric, params, seed, null);
  }

  /**
   * Test-only: an empty index whose inserts call {@code probe} part-way through (see {@link
   * InsertProbe}); null means none.
   */
  public HnswIndex(int dimension, Metric metric, HnswParams params, long seed, InsertProbe probe) {
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be positive, got " + dimension);
    }
    this.dimension = dimension;
    this.metric = Objects.requireNonNull(metric, "metric");
    this.quantized = metric != Metric.L2;
    this.params = Objects.requireNonNull(params, "params");
    this.seed = seed;
    this.probe = probe;
    this.m = params.m();
    this.maxDegree0 = params.maxDegree0();
    this.stride0 = 1 + maxDegree0;
    this.strideUpper = 1 + m;
    this.levelMultiplier = 1 / Math.log(m);
    this.chunks = new ChunkTable<>(i -> new Chunk(dimension, stride0, quantized));
    for (int i = 0; i < STRIPES; i++) {
      locks[i] = new Object();
    }
  }

  @Override
  public int dimension() {
    return dimension;
  }

  @Override
  public Metric metric() {
    return metric;
  }

  /** The construction and search parameters. */
  public HnswParams params() {
    return params;
  }

  // ---------------------------------------------------------------------------------- insert

  /**
   * {@inheritDoc}
   *
   * <p>An insert that throws after claiming the ordinal (out of memory, a bug, a test probe) marks
   * it aborted before rethrowing: the ordinal is then absent ({@link #contains} false, never
   * returned by a search, not in a snapshot), links that already point at it are treated like links
   * to a tombstone (routed through, never chosen, rewritten by {@link #repair}), and a later {@code
   * add} of the same ordinal claims it again and inserts it normally.
   */
  @Override
  public void add(int ordinal, float[] vector) {
    if (ordinal < 0) {
      throw new IllegalArgumentException("ordinal must be non-negative, got " + ordinal);
    }
    checkDimension(vector);
    Chunk chunk = chunks.ensure(ordinal);
    int slot = ordinal & ChunkTable.MASK;
    int level = levelOf(ordinal);
    int claimed = CLAIMED | (level << LEVEL_SHIFT);
    if (!INTS.compareAndSet(chunk.state, slot, 0, claimed)
        && !INTS.compareAndSet(chunk.state, slot, claimed | ABORTED, claimed)) {
      throw new IllegalStateException("ordinal " + ordinal + " was already added");
    }
    try {
      int offset = slot * dimension;
      if (metric == Metric.COSINE) {
        VectorMath.normalizeInto(vector, chunk.vectors, offset);
      } else {
        System.arraycopy(vector, 0, chunk.vectors, offset, dimension);
      }
      chunk.encode(slot, dimension);
      if (level > 0) {
        // A fresh array on a retry too: stale lists of the aborted attempt must not survive.
        int[] previous = chunk.upper[slot];
        chunk.upper[slot] = new int[level * strideUpper];
        if (previous == null) {
          upperBytes.addAndGet(16L + 4L * level * strideUpper);
        }
      }
      highWater.accumulateAndGet(ordinal + 1, Math::max);
      if (probe != null) {
        probe.reached(InsertProbe.Stage.CLAIMED, ordinal, vector);
      }
      link(ordinal, level, vector, chunk.vectors, offset, SCRATCH.get());
    } catch (Throwable failure) {
      // Only this thread holds the claim (remove acts on linked nodes only): no CAS race.
      setFlag(chunk, slot, ABORTED);
      unrepaired.incrementAndGet(); // neighbours may already link to it
      throw failure;
    }
    nodes.incrementAndGet();
    size.incrementAndGet();
    setFlag(chunk, slot, LINKED);
  }

  private void link(int node, int level, float[] vector, float[] q, int qo, Scratch s) {
    Entry ep = entry.get();
    if (ep == null) {
      if (entry.compareAndSet(null, new Entry(node, level))) {
        return;
      }
      ep = entry.get();
    }
    s.ensure(maxDegree0, params.efConstruction());
    int top = Math.min(level, ep.level);
    int[][] chosenIds = new int[top + 1][];
    float[][] chosenScores = new float[top + 1][];
    int cur = greedyDescent(q, qo, ep.node, ep.level, level, s);
    // Search every layer first, then link bottom-up: the node becomes reachable on a layer only
    // once its lists on all lower layers are complete, so no concurrent insert can descend into
    // it and find an empty layer-0 list.
    for (int layer = top; layer >= 0; layer--) {
      searchLayer(q, qo, cur, params.efConstruction(), layer, null, false, s);
      int n = s.results.drainDescending(s.ids, s.scores);
      rescore(q, qo, s.ids, s.scores, n, s);
      if (n > 0) {
        cur = s.ids[0];
      }
      int live = 0;
      for (int i = 0; i < n; i++) {
        int id = s.ids[i];
        if (id != node && !isDead(id)) {
          s.ids[live] = id;
          s.scores[live++] = s.scores[i];
        }
      }
      if (live == 0) {
        // Everything reachable is removed (e.g. a removed entry point in a young graph): link to
        // the tombstones anyway, so the node is reachable; repair reroutes around them later.
        for (int i = 0; i < n; i++) {
          if (s.ids[i] != node) {
            s.ids[live] = s.ids[i];
            s.scores[live++] = s.scores[i];
          }
        }
      }
      int chosen = selectNeighbours(s.ids, s.scores, live, m, s.selected, s.selectedScores, true);
      chosenIds[layer] = Arrays.copyOf(s.selected, chosen);
      chosenScores[layer] = Arrays.copyOf(s.selectedScores, chosen);
    }
    for (int layer = 0; layer <= top; layer++) {
      int[] ids = chosenIds[layer];
      writeList(node, layer, ids, ids.length);
      for (int i = 0; i < ids.length; i++) {
        addBackLink(ids[i], node, chosenScores[layer][i], layer, s);
      }
      if (layer == 0 && probe != null) {
        probe.reached(InsertProbe.Stage.LAYER0_LINKED, node, vector);
      }
    }
    while (true) {
      Entry current = entry.get();
      if (current.level >= level || entry.compareAndSet(current, new Entry(node, level))) {
        return;
      }
    }
  }

  /** Appends {@code node} to {@code target}'s list, pruning with the heuristic when full. */
  private void addBackLink(int target, int node, float score, int layer, Scratch s) {
    synchronized (lockFor(target)) {
      Chunk chunk = chunks.get(target);
      int slot = target & ChunkTable.MASK;
      int[] links = layer == 0 ? chunk.links0 : chunk.upper[slot];
      int base = layer == 0 ? slot * stride0 : (layer - 1) * strideUpper;
      int cap = layer == 0 ? maxDegree0 : m;
      int count = links[base];
      for (int i = 0; i < count; i++) {
        if (links[base + 1 + i] == node) {
          return;
        }
      }
      if (count < cap) {
        INTS.setRelease(links, base + 1 + count, node);
        INTS.setRelease(links, base, count + 1);
        return;
      }
      float[] tv = chunk.vectors;
      int to = slot * dimension;
      int n = 0;
      s.keys[n++] = key(score, node);
      for (int i = 0; i < count; i++) {
        int id = links[base + 1 + i];
        if (!isDead(id)) {
          s.keys[n++] = key(score(tv, to, id), id);
        }
      }
      int chosen = selectFromKeys(s, n, cap, true);
      writeLocked(links, base, s.pruned, chosen);
    }
  }

  /**
   * Sorts {@code s.keys[0, n)} and keeps up to {@code cap} by the heuristic in {@code s.pruned}.
   */
  private int selectFromKeys(Scratch s, int n, int cap, boolean fill) {
    Arrays.sort(s.keys, 0, n);
    for (int i = 0; i < n; i++) {
      long k = s.keys[n - 1 - i];
      s.pruneIds[i] = (int) k;
      s.pruneScores[i] = scoreOfKey(k);
    }
    return selectNeighbours(s.pruneIds, s.pruneScores, n, cap, s.pruned, s.prunedScores, fill);
  }

  private void writeList(int node, int layer, int[] ids, int count) {
    synchronized (lockFor(node)) {
      Chunk chunk = chunks.get(node);
      int slot = node & ChunkTable.MASK;
      if (layer == 0) {
        writeLocked(chunk.links0, slot * stride0, ids, count);
      } else {
        writeLocked(chunk.upper[slot], (layer - 1) * strideUpper, ids, count);
      }
    }
  }

  private static void writeLocked(int[] links, int base, int[] ids, int count) {
    for (int i = 0; i < count; i++) {
      INTS.setRelease(links, base + 1 + i, ids[i]);
    }
    INTS.setRelease(links, base, count);
  }

  /**
   * The HNSW neighbour-selection heuristic: walk candidates from closest to farthest and keep one
   * only if it is closer to the base than to every neighbour already kept. Candidates must be
   * sorted by descending score. With {@code fill}, slots the heuristic left empty are then filled
   * with the closest candidates it skipped (hnswlib's {@code keepPrunedConnections}). Engram always
   * fills. Without filling (hnswlib's default) the average layer-0 degree drops from 25.5 to 22.9
   * on 20K × 384-d clustered data and build and query cost 25–35 % less CPU for 0.001 recall@10,
   * but on 5,000 random 32-d L2 vectors two nodes stopped being their own top-1 at ef 64
   * (KillNineTest), which the filled lists keep.
   */
  private int selectNeighbours(
      int[] ids, float[] scores, int n, int max, int[] out, float[] outScores, boolean fill) {
    int count = 0;
    int skipped = 0;
    for (int i = 0; i < n && count < max; i++) {
      int candidate = ids[i];
      float toBase = scores[i];
      Chunk chunk = chunks.get(candidate);
      int offset = (candidate & ChunkTable.MASK) * dimension;
      boolean keep = true;
      for (int j = 0; j < count; j++) {
        if (score(chunk.vectors, offset, out[j]) > toBase) {
          keep = false;
          break;
        }
      }
      if (keep) {
        out[count] = candidate;
        outScores[count++] = toBase;
      } else if (fill) {
        // Compact skipped candidates to the front of the input, preserving order.
        ids[skipped] = candidate;
        scores[skipped++] = toBase;
      }
    }
    for (int i = 0; fill && i < skipped && count < max; i++) {
      out[count] = ids[i];
      outScores[count++] = scores[i];
    }
    return count;
  }

  // ---------------------------------------------------------------------------------- search

  /** The {@code k} nearest with the default {@code efSearch}, no threshold and no filter. */
  public List<SearchHit> search(float[] query, int k) {
    return search(query, k, params.efSearch(), Float.NEGATIVE_INFINITY, ALL);
  }

  /**
   * {@inheritDoc}
   *
   * <p>{@code ef <= 0} means the index's {@link HnswParams#efSearch()}. Removed ordinals and
   * ordinals rejected by {@code filter} are still walked through but never returned; a very
   * selective filter therefore makes the search visit more of the graph (up to all of it).
   */
  @Override
  public List<SearchHit> search(float[] query, int k, int ef, float minScore, IntPredicate filter) {
    checkDimension(query);
    if (k < 1) {
      throw new IllegalArgumentException("k must be positive, got " + k);
    }
    Objects.requireNonNull(filter, "filter");
    int width = Math.max(ef <= 0 ? params.efSearch() : ef, k);
    Entry ep = entry.get();
    if (ep == null) {
      return List.of();
    }
    float[] q = metric == Metric.COSINE ? VectorMath.normalized(query) : query;
    Scratch s = SCRATCH.get();
    s.ensure(maxDegree0, width);
    int cur = greedyDescent(q, 0, ep.node, ep.level, 0, s);
    searchLayer(q, 0, cur, width, 0, filter, true, s);
    ScoreHeap results = s.results;
    if (quantized) { // re-rank the walk's candidates by their float vectors
      int n = results.drainDescending(s.ids, s.scores);
      rescore(q, 0, s.ids, s.scores, n, s);
      for (int i = 0; i < n; i++) {
        results.push(s.ids[i], s.scores[i]);
      }
    }
    while (results.size() > k || (!results.isEmpty() && results.minScore() < minScore)) {
      results.pop();
    }
    return FlatIndex.toHits(results);
  }

  /** Walks greedily from {@code start} on layers {@code top} down to {@code bottom + 1}. */
  private int greedyDescent(float[] q, int qo, int start, int top, int bottom, Scratch s) {
    int cur = start;
    float curScore = scoreQuery(q, qo, cur);
    for (int layer = top; layer > bottom; layer--) {
      boolean changed = true;
      while (changed) {
        changed = false;
        int n = readNeighbours(cur, layer, s.neighbours);
        for (int i = 0; i < n; i++) {
          int candidate = s.neighbours[i];
          float score = scoreQuery(q, qo, candidate);
          if (score > curScore) {
            curScore = score;
            cur = candidate;
            changed = true;
          }
        }
      }
    }
    return cur;
  }

  /**
   * Best-first search of one layer from {@code start}, leaving up to {@code ef} results in {@code
   * s.results}. With {@code forQuery}, tombstones and ordinals rejected by {@code filter} are
   * routed through but kept out of the results.
   */
  private void searchLayer(
      float[] q,
      int qo,
      int start,
      int ef,
      int layer,
      IntPredicate filter,
      boolean forQuery,
      Scratch s) {
    ScoreHeap candidates = s.candidates;
    ScoreHeap results = s.results;
    candidates.clear();
    results.clear();
    s.startVisit(highWater.get());
    s.visit(start);
    float startScore = scoreQuery(q, qo, start);
    candidates.push(start, -startScore);
    if (!forQuery || accept(start, filter)) {
      results.push(start, startScore);
    }
    int[] neighbours = s.neighbours;
    while (!candidates.isEmpty()) {
      float best = -candidates.minScore();
      if (results.size() >= ef && best < results.minScore()) {
        break;
      }
      int current = candidates.pop();
      int n = readNeighbours(current, layer, neighbours);
      for (int i = 0; i < n; i++) {
        int candidate = neighbours[i];
        if (!s.visit(candidate)) {
          continue;
        }
        float score = scoreQuery(q, qo, candidate);
        if (results.size() < ef || score > results.minScore()) {
          candidates.push(candidate, -score);
          if (!forQuery || accept(candidate, filter)) {
            results.push(candidate, score);
            if (results.size() > ef) {
              results.pop();
            }
          }
        }
      }
    }
  }

  private boolean accept(int ordinal, IntPredicate filter) {
    return (stateOf(ordinal) & (LINKED | DEAD)) == LINKED && filter.test(ordinal);
  }

  /** Copies the list of {@code node} on {@code layer} into {@code out}, without locking. */
  private int readNeighbours(int node, int layer, int[] out) {
    Chunk chunk = chunks.get(node);
    int slot = node & ChunkTable.MASK;
    int[] links;
    int base;
    int cap;
    if (layer == 0) {
      links = chunk.links0;
      base = slot * stride0;
      cap = maxDegree0;
    } else {
      links = chunk.upper[slot];
      base = (layer - 1) * strideUpper;
      cap = m;
      if (links == null || base >= links.length) {
        return 0;
      }
    }
    int count = Math.min((int) INTS.getAcquire(links, base), cap);
    for (int i = 0; i < count; i++) {
      out[i] = (int) INTS.getAcquire(links, base + 1 + i);
    }
    return count;
  }

  /**
   * The score the graph walks rank by: from the node's int8 code where the metric has codes (a
   * quarter of the memory traffic of the floats), else exact.
   */
  private float scoreQuery(float[] q, int qo, int node) {
    Chunk chunk = chunks.get(node);
    int slot = node & ChunkTable.MASK;
    if (chunk.codes != null) {
      return chunk.codeScales[slot]
          * VectorMath.dotBytes(q, qo, chunk.codes, slot * dimension, dimension);
    }
    return VectorMath.score(metric, q, qo, chunk.vectors, slot * dimension, dimension);
  }

  /** The exact score of {@code a[ao, ao+dimension)} and the node's float vector. */
  private float score(float[] a, int ao, int node) {
    Chunk chunk = chunks.get(node);
    return VectorMath.score(
        metric, a, ao, chunk.vectors, (node & ChunkTable.MASK) * dimension, dimension);
  }

  /**
   * Replaces the walk scores of {@code ids[0, n)} by exact ones and sorts them by descending exact
   * score (ties by ordinal); nothing to do without codes.
   */
  private void rescore(float[] q, int qo, int[] ids, float[] scores, int n, Scratch s) {
    if (!quantized) {
      return;
    }
    for (int i = 0; i < n; i++) {
      s.keys[i] = key(score(q, qo, ids[i]), ids[i]);
    }
    Arrays.sort(s.keys, 0, n);
    for (int i = 0; i < n; i++) {
      long k = s.keys[n - 1 - i];
      ids[i] = (int) k;
      scores[i] = scoreOfKey(k);
    }
  }

  // ---------------------------------------------------------------------------------- remove

  /**
   * {@inheritDoc}
   *
   * <p>Marks a tombstone and returns; it never waits for a repair. When unrepaired tombstones
   * exceed {@link HnswParams#repairFraction()} of the graph, this call starts {@link #repair} on a
   * background daemon thread (unless a repair is already running); searches meanwhile route through
   * the tombstones and never return them. A fraction of 0 leaves repair to the caller.
   */
  @Override
  public boolean remove(int ordinal) {
    Chunk chunk = ordinal < 0 ? null : chunks.get(ordinal);
    if (chunk == null) {
      return false;
    }
    if (!SlotStates.tombstone(chunk.state, ordinal & ChunkTable.MASK, LINKED)) {
      return false;
    }
    size.decrementAndGet();
    int pending = unrepaired.incrementAndGet();
    double fraction = params.repairFraction();
    if (fraction > 0 && pending > fraction * nodes.get() && repairing.compareAndSet(false, true)) {
      try {
        Thread.ofPlatform().daemon().name("hnsw-repair").start(this::repairClaimed);
      } catch (Throwable failure) { // no thread: the next remove over the fraction tries again
        clearRepairing();
      }
    }
    return true;
  }

  /** Waits until no repair is running (a background one started by {@link #remove} included). */
  public void awaitRepair() throws InterruptedException {
    synchronized (repairDone) {
      while (repairing.get()) {
        repairDone.wait();
      }
    }
  }

  /** Removed ordinals (and aborted inserts) whose in-links have not been repaired yet. */
  public int tombstones() {
    return unrepaired.get();
  }

  /**
   * Reconnects the graph around removed nodes: every live node's list that points at a tombstone is
   * rebuilt from its live neighbours plus the tombstones' live neighbours, by the selection
   * heuristic; a removed entry point is replaced by the highest live node. Runs concurrently with
   * inserts and searches; returns 0 at once if another repair is running.
   *
   * @return the number of neighbour lists rewritten
   */
  public int repair() {
    if (!repairing.compareAndSet(false, true)) {
      return 0;
    }
    return repairClaimed();
  }

  /** The body of {@link #repair}, run by the thread that set {@code repairing}; clears it. */
  private int repairClaimed() {
    try {
      int pending = unrepaired.get();
      Scratch s = SCRATCH.get();
      s.ensure(maxDegree0, 2 * maxDegree0);
      int rewritten = 0;
      int limit = highWater.get();
      int bestLive = -1;
      int bestLevel = -1;
      for (int node = 0; node < limit; node++) {
        int state = stateOf(node);
        if ((state & LINKED) == 0 || (state & DELETED) != 0) {
          continue;
        }
        int level = state >>> LEVEL_SHIFT;
        if (level > bestLevel) {
          bestLevel = level;
          bestLive = node;
        }
        for (int layer = 0; layer <= level; layer++) {
          if (repairList(node, layer, s)) {
            rewritten++;
          }
        }
      }
      Entry ep = entry.get();
      if (ep != null && isDead(ep.node) && bestLive >= 0) {
        entry.compareAndSet(ep, new Entry(bestLive, bestLevel));
      }
      unrepaired.addAndGet(-pending);
      return rewritten;
    } finally {
      clearRepairing();
    }
  }

  private void clearRepairing() {
    synchronized (repairDone) {
      repairing.set(false);
      repairDone.notifyAll();
    }
  }

  private boolean repairList(int node, int layer, Scratch s) {
    synchronized (lockFor(node)) {
      Chunk chunk = chunks.get(node);
      int slot = node & ChunkTable.MASK;
      int[] links = layer == 0 ? chunk.links0 : chunk.upper[slot];
      int base = layer == 0 ? slot * stride0 : (layer - 1) * strideUpper;
      int cap = layer == 0 ? maxDegree0 : m;
      int count = links[base];
      boolean stale = false;
      for (int i = 0; i < count && !stale; i++) {
        stale = isDead(links[base + 1 + i]);
      }
      if (!stale) {
        return false;
      }
      s.startVisit(highWater.get());
      s.visit(node);
      float[] nv = chunk.vectors;
      int no = slot * dimension;
      int n = 0;
      for (int i = 0; i < count; i++) {
        int id = links[base + 1 + i];
        if (!isDead(id)) {
          if (s.visit(id)) {
            n = s.addKey(n, key(score(nv, no, id), id));
          }
          continue;
        }
        s.visit(id);
        int k = readNeighbours(id, layer, s.neighbours);
        for (int j = 0; j < k; j++) {
          int second = s.neighbours[j];
          if (!isDead(second) && s.visit(second)) {
            n = s.addKey(n, key(score(nv, no, second), second));
          }
        }
      }
      if (n == 0) {
        return false; // only tombstones around: keep them as routing nodes for now
      }
      s.ensurePrune(n);
      int chosen = selectFromKeys(s, n, cap, true);
      writeLocked(links, base, s.pruned, chosen);
      return true;
    }
  }

  // ---------------------------------------------------------------------------------- queries

  @Override
  public boolean contains(int ordinal) {
    int state = ordinal < 0 ? 0 : stateOf(ordinal);
    return (state & (LINKED | DEAD)) == LINKED;
  }

  @Override
  public int size() {
    return size.get();
  }

  /** The layer-0 neighbours of {@code ordinal} (empty if absent); a snapshot copy. */
  public int[] neighbours(int ordinal) {
    return neighbours(ordinal, 0);
  }

  /** The neighbours of {@code ordinal} on {@code layer} (empty if absent or above its level). */
  public int[] neighbours(int ordinal, int layer) {
    int state = ordinal < 0 || layer < 0 ? 0 : stateOf(ordinal);
    if (state == 0 || layer > (state >>> LEVEL_SHIFT)) {
      return new int[0];
    }
    int[] out = new int[maxDegree0];
    return Arrays.copyOf(out, readNeighbours(ordinal, layer, out));
  }

  /** The top layer of {@code ordinal}, or -1 if it was never added. */
  public int level(int ordinal) {
    int state = ordinal < 0 ? 0 : stateOf(ordinal);
    return state == 0 ? -1 : state >>> LEVEL_SHIFT;
  }

  /** A copy of the stored vector (unit length for cosine), or null if absent or removed. */
  public float[] vector(int ordinal) {
    if (!contains(ordinal)) {
      return null;
    }
    Chunk chunk = chunks.get(ordinal);
    int from = (ordinal & ChunkTable.MASK) * dimension;
    return Arrays.copyOfRange(chunk.vectors, from, from + dimension);
  }

  @Override
  public long memoryBytes() {
    long perChunk =
        16L
            + 4L * ChunkTable.SIZE * dimension
            + 16
            + 4L * ChunkTable.SIZE * stride0
            + 16
            + 4L * ChunkTable.SIZE
            + 16
            + 4L * ChunkTable.SIZE
            + (quantized ? 32 + (long) ChunkTable.SIZE * dimension + 4L * ChunkTable.SIZE : 0)
            + 32;
    return 256
        + 8L * STRIPES
        + 8L * chunks.slots()
        + perChunk * chunks.created()
        + upperBytes.get();
  }

  // ---------------------------------------------------------------------------------- persistence

  /**
   * Writes the graph to {@code path} atomically (temporary file in the same directory, forced, then
   * renamed), with a CRC32C over the whole file. Searches may run meanwhile; inserts and removes
   * running concurrently may be missing from the file or partially linked in it, but the file is
   * always a valid graph (links to nodes outside the snapshot are dropped).
   */
  public void save(Path path) throws IOException {
    IndexFiles.writeAtomically(path, IndexFiles.KIND_HNSW, this::writeBody);
  }

  private void writeBody(IndexFiles.Output out) throws IOException {
    int limit = highWater.get();
    BitSet present = new BitSet(limit);
    Entry best = null;
    for (int node = 0; node < limit; node++) {
      int state = stateOf(node);
      if ((state & LINKED) != 0) { // claimed-only and aborted inserts are not in a snapshot
        present.set(node);
        int level = state >>> LEVEL_SHIFT;
        if ((state & DELETED) == 0 && (best == null || level > best.level)) {
          best = new Entry(node, level);
        }
      }
    }
    Entry ep = entry.get();
    if (ep != null && !present.get(ep.node)) {
      ep = best; // the entry point is an unfinished insert: start from the highest live node
    }
    out.putInt(dimension);
    out.putByte((byte) metric.ordinal());
    out.putInt(m);
    out.putInt(params.efConstruction());
    out.putInt(params.efSearch());
    out.putDouble(params.repairFraction());
    out.putLong(seed);
    out.putInt(limit);
    out.putInt(ep == null ? -1 : ep.node);
    out.putInt(ep == null ? -1 : ep.level);
    out.putInt(present.cardinality());
    int[] list = new int[maxDegree0];
    int[] kept = new int[maxDegree0];
    for (int node = present.nextSetBit(0); node >= 0; node = present.nextSetBit(node + 1)) {
      Chunk chunk = chunks.get(node);
      int slot = node & ChunkTable.MASK;
      int state = (int) INTS.getAcquire(chunk.state, slot);
      int level = state >>> LEVEL_SHIFT;
      out.putInt(node);
      out.putByte((byte) ((state & DELETED) != 0 ? 1 : 0));
      out.putByte((byte) level);
      out.putFloats(chunk.vectors, slot * dimension, dimension);
      for (int layer = 0; layer <= level; layer++) {
        int n = readNeighbours(node, layer, list);
        int k = 0;
        for (int i = 0; i < n; i++) {
          if (present.get(list[i])) {
            kept[k++] = list[i];
          }
        }
        out.putInt(k);
        out.putInts(kept, 0, k);
      }
    }
  }

  /**
   * Reads a graph written by {@link #save}. The whole file is checksummed before parsing and the
   * graph is checked for consistency before it is returned.
   *
   * @throws IndexFormatException if the file is truncated, corrupt, of another format version, or
   *     not an HNSW index
   */
  public static HnswIndex load(Path path) throws IOException {
    try (IndexFiles.Input in = IndexFiles.open(path, IndexFiles.KIND_HNSW)) {
      int dimension = in.getInt();
      int metricOrdinal = in.getByte();
      int m = in.getInt();
      int efConstruction = in.getInt();
      int efSearch = in.getInt();
      double repairFraction = in.getDouble();
      long seed = in.getLong();
      if (dimension < 1 || metricOrdinal < 0 || metricOrdinal >= Metric.values().length) {
        throw in.corrupt("bad header: dimension " + dimension + ", metric " + metricOrdinal);
      }
      HnswParams params;
      try {
        params = new HnswParams(m, efConstruction, efSearch, repairFraction);
      } catch (IllegalArgumentException e) {
        throw new IndexFormatException(in.path(), "bad parameters: " + e.getMessage(), e);
      }
      HnswIndex index = new HnswIndex(dimension, Metric.values()[metricOrdinal], params, seed);
      int limit = in.getInt();
      int entryNode = in.getInt();
      int entryLevel = in.getInt();
      int count = in.getInt();
      long minNodeBytes = 4 + 2 + 4L * dimension + 4;
      if (limit < 0 || count < 0 || count > limit || count * minNodeBytes > in.remaining()) {
        throw in.corrupt("bad node count " + count + " (ordinal limit " + limit + ")");
      }
      index.readNodes(in, count, limit);
      if (count > 0) {
        if (entryNode < 0 || entryNode >= limit || index.level(entryNode) != entryLevel) {
          throw in.corrupt("bad entry point " + entryNode + " at level " + entryLevel);
        }
        index.entry.set(new Entry(entryNode, entryLevel));
      }
      in.expectEnd();
      index.checkLinks(in);
      return index;
    }
  }

  private void readNodes(IndexFiles.Input in, int count, int limit) throws IOException {
    int previous = -1;
    for (int i = 0; i < count; i++) {
      int node = in.getInt();
      boolean deleted = in.getByte() != 0;
      int level = in.getByte();
      if (node <= previous || node >= limit || level < 0 || level > MAX_LEVEL) {
        throw in.corrupt("bad node " + node + " at level " + level);
      }
      previous = node;
      Chunk chunk = chunks.ensure(node);
      int slot = node & ChunkTable.MASK;
      in.getFloats(chunk.vectors, slot * dimension, dimension);
      chunk.encode(slot, dimension);
      if (level > 0) {
        chunk.upper[slot] = new int[level * strideUpper];
        upperBytes.addAndGet(16L + 4L * level * strideUpper);
      }
      for (int layer = 0; layer <= level; layer++) {
        int[] links = layer == 0 ? chunk.links0 : chunk.upper[slot];
        int base = layer == 0 ? slot * stride0 : (layer - 1) * strideUpper;
        int n = in.getInt();
        if (n < 0 || n > (layer == 0 ? maxDegree0 : m)) {
          throw in.corrupt("node " + node + " has " + n + " neighbours on layer " + layer);
        }
        links[base] = n;
        for (int j = 0; j < n; j++) {
          int id = in.getInt();
          if (id < 0 || id >= limit) {
            throw in.corrupt("node " + node + " links to out-of-range ordinal " + id);
          }
          links[base + 1 + j] = id;
        }
      }
      chunk.state[slot] = CLAIMED | LINKED | (deleted ? DELETED : 0) | (level << LEVEL_SHIFT);
      nodes.incrementAndGet();
      if (deleted) {
        unrepaired.incrementAndGet();
      } else {
        size.incrementAndGet();
      }
    }
    highWater.set(previous + 1);
  }

  private void checkLinks(IndexFiles.Input in) throws IndexFormatException {
    int limit = highWater.get();
    int[] list = new int[maxDegree0];
    for (int node = 0; node < limit; node++) {
      int level = level(node);
      for (int layer = 0; layer <= level; layer++) {
        int n = readNeighbours(node, layer, list);
        for (int i = 0; i < n; i++) {
          if (level(list[i]) < layer) {
            throw in.corrupt("node " + node + " links to missing node " + list[i]);
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------- helpers

  private int levelOf(int ordinal) {
    long z = seed + (ordinal + 1L) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    double uniform = ((z >>> 11) + 1) * 0x1.0p-53;
    return Math.min((int) (-Math.log(uniform) * levelMultiplier), MAX_LEVEL);
  }

  private int stateOf(int ordinal) {
    Chunk chunk = chunks.get(ordinal);
    return chunk == null ? 0 : (int) INTS.getAcquire(chunk.state, ordinal & ChunkTable.MASK);
  }

  /** Removed, or an aborted insert: routed through, never returned or chosen as a neighbour. */
  private boolean isDead(int ordinal) {
    return (stateOf(ordinal) & DEAD) != 0;
  }

  private static void setFlag(Chunk chunk, int slot, int flag) {
    SlotStates.setFlag(chunk.state, slot, flag);
  }

  private Object lockFor(int ordinal) {
    return locks[ordinal & (STRIPES - 1)];
  }

  private void checkDimension(float[] vector) {
    if (vector.length != dimension) {
      throw new IllegalArgumentException(
          "expected a vector of dimension " + dimension + ", got " + vector.length);
    }
  }

  /** Sort key for (score, id): ascending keys are ascending scores. */
  private static long key(float score, int id) {
    int bits = Float.floatToIntBits(score);
    bits ^= (bits >> 31) & 0x7fffffff;
    return ((long) bits << 32) | (id & 0xffffffffL);
  }

  private static float scoreOfKey(long key) {
    int bits = (int) (key >> 32);
    bits ^= (bits >> 31) & 0x7fffffff;
    return Float.intBitsToFloat(bits);
  }

  /** Per-thread search state, reused across searches and indexes on the same thread. */
  private static final class Scratch {
    int[] visited = new int[ChunkTable.SIZE];
    int epoch;
    final ScoreHeap candidates = new ScoreHeap(256);
    final ScoreHeap results = new ScoreHeap(256);
    int[] neighbours = new int[0];
    int[] ids = new int[0];
    float[] scores = new float[0];
    int[] selected = new int[0];
    float[] selectedScores = new float[0];
    long[] keys = new long[0];
    int[] pruneIds = new int[0];
    float[] pruneScores = new float[0];
    int[] pruned = new int[0];
    float[] prunedScores = new float[0];

    void ensure(int degree, int ef) {
      if (neighbours.length < degree) {
        neighbours = new int[degree];
      }
      int results = ef + 1;
      if (ids.length < results) {
        ids = new int[results];
        scores = new float[results];
        selected = new int[results];
        selectedScores = new float[results];
      }
      int prune = Math.max(degree + 1, ef + 1);
      if (keys.length < prune) {
        keys = Arrays.copyOf(keys, prune);
      }
      ensurePrune(prune);
    }

    void ensurePrune(int n) {
      if (pruneIds.length < n) {
        pruneIds = new int[n];
        pruneScores = new float[n];
        pruned = new int[n];
        prunedScores = new float[n];
      }
    }

    int addKey(int n, long key) {
      if (n == keys.length) {
        keys = Arrays.copyOf(keys, 2 * n + 16);
      }
      keys[n] = key;
      return n + 1;
    }

    void startVisit(int capacity) {
      if (visited.length < capacity) {
        visited = new int[Math.max(capacity, visited.length + (visited.length >> 1))];
        epoch = 0;
      }
      if (++epoch == 0) {
        Arrays.fill(visited, 0);
        epoch = 1;
      }
    }

    /** Marks {@code ordinal} visited; false if it already was in this search. */
    boolean visit(int ordinal) {
      if (ordinal >= visited.length) {
        visited = Arrays.copyOf(visited, Math.max(ordinal + 1, visited.length * 2));
      }
      if (visited[ordinal] == epoch) {
        return false;
      }
      visited[ordinal] = epoch;
      return true;
    }
  }
}
