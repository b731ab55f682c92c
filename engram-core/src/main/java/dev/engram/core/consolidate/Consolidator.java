package dev.engram.core.consolidate;

import dev.engram.core.index.SearchHit;
import dev.engram.core.index.VectorMath;
import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.model.Episode;
import dev.engram.core.space.EpisodeHead;
import dev.engram.core.space.MemorySpace;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.DoubleSupplier;

/**
 * The consolidation worker: the third stage after accepted and indexed. Index workers hand it each
 * indexed episode ({@link #indexed}, never blocking); recalls hand it what they returned ({@link
 * #recalled}). One background thread at the lowest priority then, per episode: looks up its index
 * neighbours, merges it into an earlier memory if it is a near-duplicate (cosine at or above {@link
 * ConsolidationConfig#duplicateCosine} and near-identical text), else links it to its similar
 * neighbours (cosine at or above {@link ConsolidationConfig#similarityFloor}), to the session's
 * previous and next observations and to its neighbours in {@code observed_at}; and per recall:
 * reinforces the returned memories' confidence and strengthens the edges between the first few
 * (co-recall, Hebbian, bounded). Changed nodes are written through the {@link AssociationSink} in
 * batches; only then is each episode reported {@linkplain IndexCallback#consolidated consolidated}
 * to its session.
 *
 * <p>Backpressure: while the ingest queue's pressure is at or above {@link
 * ConsolidationConfig#pauseAt} the worker does nothing (it checks between episodes), so it never
 * competes with indexing when accepting is at risk. It never runs on the ack path: its inputs are
 * lock-free queue offers.
 *
 * <p>Decay is not a sweep: a node keeps its strength and when it was set, and readers compute the
 * decayed value ({@link Associations#confidence}), which is exact at any time.
 *
 * <p>Bounds: at most {@link #MAX_PENDING} episodes wait; beyond that an episode is reported
 * consolidated without edges (counted in {@link #skipped}). At most {@link #MAX_RECALLED} recalls
 * wait; beyond that a recall's reinforcement is dropped.
 *
 * <p>Concurrency: {@link #indexed} and {@link #recalled} are safe from any thread; everything else
 * (the time indexes, session trails) belongs to the worker thread.
 */
public final class Consolidator implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Consolidator.class.getName());

  static final int MAX_PENDING = 1 << 20;
  static final int MAX_RECALLED = 4096;
  private static final int BATCH = 256;
  private static final int CO_RECALL_TOP = 5;
  private static final int TRAIL = 32;
  private static final int MAX_TRAILS = 4096;

  /**
   * The search width of the neighbour lookup: narrower than recall's (100), since an edge needs a
   * close neighbour, not the exact k nearest, and every episode pays for it.
   */
  private static final int NEIGHBOUR_EF = 32;

  /** Edge weight between consecutive observations of one session. */
  public static final float SESSION_WEIGHT = 0.8f;

  /** Edge weight between neighbours in {@code observed_at}. */
  public static final float TIME_WEIGHT = 0.5f;

  /** What one co-recall adds to an edge (up to {@link Associations#MAX_CO_RECALL_WEIGHT}). */
  public static final float CO_RECALL_DELTA = 0.1f;

  private record Pending(MemorySpace space, int ordinal, long sequence, IndexCallback callback) {}

  private record Recalled(MemorySpace space, int[] ordinals) {}

  private record TimeKey(long millis, int ordinal) implements Comparable<TimeKey> {
    @Override
    public int compareTo(TimeKey o) {
      int c = Long.compare(millis, o.millis);
      return c != 0 ? c : Integer.compare(ordinal, o.ordinal);
    }
  }

  /** The last observations of one session: sequence → ordinal, in a small ring. */
  private static final class Trail {
    final long[] sequences = new long[TRAIL];
    final int[] ordinals = new int[TRAIL];

    Trail() {
      Arrays.fill(sequences, -1);
    }

    int find(long sequence) {
      int slot = (int) (sequence % TRAIL);
      return sequences[slot] == sequence ? ordinals[slot] : -1;
    }

    void put(long sequence, int ordinal) {
      int slot = (int) (sequence % TRAIL);
      sequences[slot] = sequence;
      ordinals[slot] = ordinal;
    }
  }

  private final ConsolidationConfig config;
  private final InstantSource clock;
  private final DoubleSupplier pressure;
  private final AssociationSink sink;
  private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final ConcurrentLinkedQueue<Recalled> recalls = new ConcurrentLinkedQueue<>();
  private final AtomicInteger recallCount = new AtomicInteger();
  private final AtomicLong consolidated = new AtomicLong();
  private final AtomicLong merged = new AtomicLong();
  private final AtomicLong skipped = new AtomicLong();
  private final AtomicLong pauses = new AtomicLong();
  private final Thread thread;
  private volatile boolean paused;
  private volatile boolean stopped;

  // Worker thread only.
  private final Map<MemorySpace, TreeSet<TimeKey>> timelines = new HashMap<>();
  private final Map<IndexCallback, Trail> trails =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<IndexCallback, Trail> eldest) {
          return size() > MAX_TRAILS;
        }
      };

  /**
   * Starts the worker thread.
   *
   * @param pressure the ingest queue's pressure (0..1)
   * @param clock the time that confidence decays by
   */
  public Consolidator(
      ConsolidationConfig config,
      InstantSource clock,
      DoubleSupplier pressure,
      AssociationSink sink) {
    this.config = config;
    this.clock = clock;
    this.pressure = pressure;
    this.sink = sink;
    this.thread = Thread.ofPlatform().name("engram-consolidate").daemon().unstarted(this::run);
    thread.setPriority(Thread.MIN_PRIORITY);
    thread.start();
  }

  // ---- inputs, from any thread ----

  /** An index worker indexed {@code ordinal} of {@code space}, accepted under {@code sequence}. */
  public void indexed(MemorySpace space, int ordinal, long sequence, IndexCallback callback) {
    if (pendingCount.incrementAndGet() > MAX_PENDING) {
      pendingCount.decrementAndGet();
      skipped.incrementAndGet();
      callback.consolidated(sequence);
      return;
    }
    pending.offer(new Pending(space, ordinal, sequence, callback));
    LockSupport.unpark(thread);
  }

  /** A recall returned these ordinals of {@code space}, best first. */
  public void recalled(MemorySpace space, int[] ordinals) {
    if (ordinals.length == 0) {
      return;
    }
    if (recallCount.incrementAndGet() > MAX_RECALLED) {
      recallCount.decrementAndGet();
      return;
    }
    recalls.offer(new Recalled(space, ordinals));
  }

  // ---- state, for metrics and tests ----

  /** Episodes consolidated since start (merged ones included). */
  public long consolidated() {
    return consolidated.get();
  }

  /** Near-duplicates merged since start. */
  public long merged() {
    return merged.get();
  }

  /** Episodes reported consolidated without edges because too many were waiting. */
  public long skipped() {
    return skipped.get();
  }

  /** How many times the worker paused for backpressure. */
  public long pauses() {
    return pauses.get();
  }

  /** Whether the worker is paused for backpressure now. */
  public boolean paused() {
    return paused;
  }

  /** Episodes waiting. */
  public int backlog() {
    return pendingCount.get();
  }

  // ---- the worker ----

  private void run() {
    List<Pending> batch = new ArrayList<>(BATCH);
    Map<MemorySpace, Set<Integer>> dirty = new HashMap<>();
    while (!stopped) {
      try {
        if (pressure.getAsDouble() >= config.pauseAt()) {
          if (!paused) {
            paused = true;
            pauses.incrementAndGet();
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
          continue;
        }
        paused = false;
        long now = clock.millis();
        Recalled r;
        int recallsDone = 0;
        while (recallsDone < BATCH && (r = recalls.poll()) != null) {
          recallCount.decrementAndGet();
          applyRecall(r, now, dirty);
          recallsDone++;
        }
        Pending p;
        while (batch.size() < BATCH
            && pressure.getAsDouble() < config.pauseAt()
            && (p = pending.poll()) != null) {
          pendingCount.decrementAndGet();
          batch.add(p);
          consolidate(p, now, dirty);
        }
        if (batch.isEmpty() && dirty.isEmpty()) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
          continue;
        }
        flush(dirty);
        for (Pending done : batch) {
          done.callback().consolidated(done.sequence());
        }
        consolidated.addAndGet(batch.size());
        batch.clear();
      } catch (RuntimeException e) {
        // A failed write (disk full, store closed) or a bug: the batch is reported anyway, so
        // watermarks move; its edges are rebuilt on the next restart's recovery pass.
        LOG.log(Level.WARNING, "consolidation batch failed; its edges may be incomplete", e);
        for (Pending done : batch) {
          done.callback().consolidated(done.sequence());
        }
        batch.clear();
        dirty.clear();
      }
    }
  }

  private void flush(Map<MemorySpace, Set<Integer>> dirty) {
    for (Map.Entry<MemorySpace, Set<Integer>> e : dirty.entrySet()) {
      if (!e.getKey().isDeleted() && !e.getValue().isEmpty()) {
        sink.persist(e.getKey(), e.getValue());
      }
    }
    dirty.clear();
  }

  private void applyRecall(Recalled r, long now, Map<MemorySpace, Set<Integer>> dirty) {
    if (r.space().isDeleted()) {
      return;
    }
    Associations graph = r.space().associations();
    Set<Integer> changed = dirty.computeIfAbsent(r.space(), s -> new HashSet<>());
    for (int ordinal : r.ordinals()) {
      if (graph.contains(ordinal)) {
        graph.reinforce(ordinal, now);
        changed.add(ordinal);
      }
    }
    int top = Math.min(CO_RECALL_TOP, r.ordinals().length);
    for (int i = 0; i < top; i++) {
      for (int j = i + 1; j < top; j++) {
        if (graph.strengthen(
            r.ordinals()[i], r.ordinals()[j], CO_RECALL_DELTA, Associations.MAX_CO_RECALL_WEIGHT)) {
          changed.add(r.ordinals()[i]);
          changed.add(r.ordinals()[j]);
        }
      }
    }
  }

  private void consolidate(Pending p, long now, Map<MemorySpace, Set<Integer>> dirty) {
    MemorySpace space = p.space();
    if (space.isDeleted()) {
      timelines.remove(space);
      return;
    }
    Associations graph = space.associations();
    EpisodeHead episode = space.head(p.ordinal());
    float[] vector = episode == null ? null : space.vector(p.ordinal());
    if (vector == null || space.isQuarantined(p.ordinal()) || graph.contains(p.ordinal())) {
      return; // forgotten, quarantined, or already consolidated (before a restart)
    }
    Set<Integer> changed = dirty.computeIfAbsent(space, s -> new HashSet<>());
    TreeSet<TimeKey> timeline = timeline(space);
    int ordinal = p.ordinal();
    long observed = episode.observedMillis();
    graph.add(ordinal, episode.confidence(), Math.min(observed, now));
    changed.add(ordinal);

    List<SearchHit> hits = space.searchIndex(vector, config.neighbours() + 1, NEIGHBOUR_EF);
    boolean first = true;
    for (SearchHit hit : hits) {
      if (hit.ordinal() == ordinal) {
        continue;
      }
      float[] other = space.vector(hit.ordinal());
      Associations.Node node = graph.node(hit.ordinal());
      if (other == null || node == null) {
        continue; // gone, or not consolidated yet (it links to this one when it is)
      }
      float cosine = cosine(vector, other);
      if (first
          && cosine >= config.duplicateCosine()
          && nearIdentical(contentOf(space, ordinal), contentOf(space, hit.ordinal()))) {
        int into = node.mergedInto() >= 0 ? node.mergedInto() : hit.ordinal();
        if (graph.merge(ordinal, into, now)) {
          space.unindex(ordinal);
          changed.add(into);
          Associations.Node target = graph.node(into);
          if (target != null) {
            for (int n : target.neighbours()) {
              changed.add(n);
            }
          }
          merged.incrementAndGet();
          return;
        }
      }
      first = false;
      if (cosine >= config.similarityFloor() && graph.link(ordinal, hit.ordinal(), cosine)) {
        changed.add(hit.ordinal());
      }
    }

    TimeKey key = new TimeKey(observed, ordinal);
    linkTime(graph, ordinal, timeline.lower(key), changed);
    linkTime(graph, ordinal, timeline.higher(key), changed);
    timeline.add(key);

    if (p.callback() != IndexCallback.NONE) {
      Trail trail = trails.computeIfAbsent(p.callback(), c -> new Trail());
      for (long adjacent : new long[] {p.sequence() - 1, p.sequence() + 1}) {
        int other = trail.find(adjacent);
        if (other >= 0 && graph.link(ordinal, other, SESSION_WEIGHT)) {
          changed.add(other);
        }
      }
      trail.put(p.sequence(), ordinal);
    }
  }

  private static void linkTime(
      Associations graph, int ordinal, TimeKey neighbour, Set<Integer> changed) {
    if (neighbour != null && graph.link(ordinal, neighbour.ordinal(), TIME_WEIGHT)) {
      changed.add(neighbour.ordinal());
    }
  }

  /** The space's consolidated episodes by {@code observed_at}, built on first use. */
  private TreeSet<TimeKey> timeline(MemorySpace space) {
    TreeSet<TimeKey> timeline = timelines.get(space);
    if (timeline == null) {
      timeline = new TreeSet<>();
      Associations graph = space.associations();
      for (int ordinal : space.ordinals()) {
        Associations.Node node = graph.node(ordinal);
        EpisodeHead e = space.head(ordinal);
        if (node != null && node.mergedInto() < 0 && e != null) {
          timeline.add(new TimeKey(e.observedMillis(), ordinal));
        }
      }
      timelines.put(space, timeline);
    }
    return timeline;
  }

  static float cosine(float[] a, float[] b) {
    float ab = VectorMath.dot(a, b);
    float aa = VectorMath.dot(a, a);
    float bb = VectorMath.dot(b, b);
    if (aa == 0f || bb == 0f) {
      return 0f;
    }
    return (float) (ab / Math.sqrt((double) aa * bb));
  }

  /** The content of the episode under {@code ordinal} (read back from its payload), or "". */
  private static String contentOf(MemorySpace space, int ordinal) {
    Episode e = space.episodeAt(ordinal);
    return e == null ? "" : e.content();
  }

  /**
   * Whether two texts say the same: equal after lower-casing and dropping punctuation and extra
   * spaces, or sharing at least 90 % of their words. Empty texts never match (no evidence).
   */
  static boolean nearIdentical(String a, String b) {
    String x = normalize(a);
    String y = normalize(b);
    if (x.isEmpty() || y.isEmpty()) {
      return false;
    }
    if (x.equals(y)) {
      return true;
    }
    Set<String> wa = new HashSet<>(Arrays.asList(x.split(" ")));
    Set<String> wb = new HashSet<>(Arrays.asList(y.split(" ")));
    Set<String> union = new HashSet<>(wa);
    union.addAll(wb);
    wa.retainAll(wb);
    return wa.size() >= 0.9 * union.size();
  }

  private static String normalize(String text) {
    return text.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N}]+", " ").trim();
  }

  /** Stops the worker; what is still waiting is left (recovery consolidates it next start). */
  @Override
  public void close() {
    stopped = true;
    LockSupport.unpark(thread);
    try {
      thread.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
