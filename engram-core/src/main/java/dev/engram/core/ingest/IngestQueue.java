package dev.engram.core.ingest;

import dev.engram.core.space.MemorySpace;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import dev.engram.core.telemetry.Outcome;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * The bounded admission queue between acceptance and indexing, and the supervised index workers
 * that drain it.
 *
 * <p>Admission: acceptors {@link #tryReserve} room before they accept episodes; the depth (reserved
 * plus queued plus being indexed) never exceeds {@link #HARD_LIMIT} of the capacity, so a client
 * that ignores every signal cannot grow it. Pressure is depth / capacity: at {@link #SOFT_LIMIT}
 * sessions signal backpressure, at the hard limit they reject, below {@link #RESUME_LIMIT} they are
 * active again.
 *
 * <p>Workers: spaces are assigned to workers by hash, so one space's episodes usually go to one
 * worker; an idle worker steals from the busiest. A worker thread that dies is restarted by the
 * supervisor (the threads' uncaught-exception handler); the task it was indexing is retried once,
 * and quarantined if it kills a worker twice: kept stored but out of the index ({@link
 * MemorySpace#quarantine}), recorded durably by the {@link QuarantineRecorder}, reported to its
 * session. Nothing else in the dead worker's batch or queue is lost.
 *
 * <p>Acceptance first: while an accept is in flight ({@link #acceptBegan} .. {@link #acceptEnded})
 * and the queue is below {@link #RESUME_LIMIT}, each worker indexes only its {@linkplain
 * #indexShare share} of the time: after an insert it parks for the insert's duration times {@code
 * (1 - share) / share} (at most {@link #MAX_YIELD_NANOS}), so the accept path gets the cores and
 * the queue absorbs the difference (which is what it is for). At the resume limit and above, or
 * with no accept in flight, workers index at full speed, so index lag stays bounded and a full
 * queue drains as fast as before. A share of 1 never yields.
 *
 * <p>Concurrency: {@link #depth} is the only shared admission state and is changed by CAS, so
 * admission never blocks. Worker queues are lock-free. Impossible outcomes: depth above the hard
 * limit through {@link #tryReserve}; a task indexed twice by two workers (each task is polled from
 * exactly one queue); a dead worker's batch dropped.
 */
public final class IngestQueue implements AutoCloseable {
  public static final float SOFT_LIMIT = 0.8f;
  public static final float HARD_LIMIT = 0.9f;
  public static final float RESUME_LIMIT = 0.5f;
  private static final System.Logger LOG = System.getLogger(IngestQueue.class.getName());
  private static final int MAX_RETRY_AFTER_MS = 5_000;

  /** The longest one yield of a worker to the accept path (it then looks again). */
  static final long MAX_YIELD_NANOS = 2_000_000;

  private final int capacity;
  private final int hardDepth;
  private final AtomicInteger depth = new AtomicInteger();
  private final IndexWorker[] workers;
  private final IndexFaultInjector faults;
  private final QuarantineRecorder recorder;
  private final LongSupplier nanoClock;
  private final EngineEvents events;
  private final LongAdder indexed = new LongAdder();
  private final LongAdder stolen = new LongAdder();
  private final AtomicLong workerRestarts = new AtomicLong();
  private final AtomicLong quarantined = new AtomicLong();
  private final AtomicInteger accepting = new AtomicInteger(); // accepts in flight
  private final LongAdder yieldedNanos = new LongAdder();
  private volatile double indexShare = 1;
  private volatile boolean stopped;

  // Drain-rate estimate, updated by sampleDrainRate() from one ticker thread.
  private long lastSampleNanos;
  private long lastSampleCount;
  private volatile double drainRate;
  private volatile IndexListener listener;

  /**
   * Creates the queue and starts {@code workerCount} worker threads.
   *
   * @param capacity the queue capacity; must be at least 10
   * @param workerCount number of index workers; at least 1
   * @param faults the test-only fault hook, {@link IndexFaultInjector#NONE} in production
   * @param nanoClock a monotonic clock in nanoseconds (e.g. {@code System::nanoTime})
   */
  public IngestQueue(
      int capacity, int workerCount, IndexFaultInjector faults, LongSupplier nanoClock) {
    this(capacity, workerCount, faults, nanoClock, QuarantineRecorder.IN_MEMORY);
  }

  /**
   * As {@link #IngestQueue(int, int, IndexFaultInjector, LongSupplier)}, recording each quarantine
   * in {@code recorder} (the durable store) before the episode's session is told.
   */
  public IngestQueue(
      int capacity,
      int workerCount,
      IndexFaultInjector faults,
      LongSupplier nanoClock,
      QuarantineRecorder recorder) {
    this(capacity, workerCount, faults, nanoClock, recorder, EngineEvents.NONE);
  }

  /**
   * As {@link #IngestQueue(int, int, IndexFaultInjector, LongSupplier, QuarantineRecorder)},
   * reporting index lag and quarantines to {@code events}.
   */
  public IngestQueue(
      int capacity,
      int workerCount,
      IndexFaultInjector faults,
      LongSupplier nanoClock,
      QuarantineRecorder recorder,
      EngineEvents events) {
    if (capacity < 10) {
      throw new IllegalArgumentException("queue capacity must be at least 10, got " + capacity);
    }
    if (workerCount < 1) {
      throw new IllegalArgumentException("workers must be at least 1, got " + workerCount);
    }
    this.capacity = capacity;
    this.hardDepth = (int) Math.round(capacity * (double) HARD_LIMIT);
    this.faults = faults;
    this.recorder = recorder;
    this.nanoClock = nanoClock;
    this.events = events;
    this.lastSampleNanos = nanoClock.getAsLong();
    this.workers = new IndexWorker[workerCount];
    for (int i = 0; i < workerCount; i++) {
      workers[i] = new IndexWorker(i, this);
    }
    for (IndexWorker worker : workers) {
      start(worker); // only once all exist: an idle worker looks at the others to steal
    }
  }

  /**
   * Reserves room for up to {@code n} episodes without blocking.
   *
   * @return how many were granted, 0..n; 0 when the queue is at its hard limit
   */
  public int tryReserve(int n) {
    while (true) {
      int current = depth.get();
      int granted = Math.min(n, hardDepth - current);
      if (granted <= 0) {
        return 0;
      }
      if (depth.compareAndSet(current, current + granted)) {
        return granted;
      }
    }
  }

  /**
   * Recovery only: takes room for {@code n} episodes that were acknowledged before a restart and
   * still need work, beyond the admission limit if need be (clients then see backpressure).
   */
  public void reserveRecovered(int n) {
    depth.addAndGet(n);
  }

  /** Returns reserved room that was not used (duplicates, rejections). */
  public void release(int n) {
    if (n > 0) {
      depth.addAndGet(-n);
    }
  }

  /**
   * An accept (one stream message or one unary batch) starts on the calling thread; pair with
   * {@link #acceptEnded} in a {@code finally}. Workers yield to accepts in flight (see the class
   * comment).
   */
  public void acceptBegan() {
    accepting.incrementAndGet();
  }

  /** The accept begun by {@link #acceptBegan} on this thread is over. */
  public void acceptEnded() {
    accepting.decrementAndGet();
  }

  /**
   * Sets the share of time each index worker keeps indexing while accepts are in flight and the
   * queue is below {@link #RESUME_LIMIT}: 1 = never yield, 0.25 = index a quarter of the time. Set
   * once, before episodes arrive (the engine does it from {@code EngramConfig.indexShare}).
   *
   * @throws IllegalArgumentException unless 0 &lt; share &le; 1
   */
  public void indexShare(double share) {
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("index share must be in (0, 1], got " + share);
    }
    this.indexShare = share;
  }

  /**
   * Worker thread, after an insert that took {@code insertNanos}: yields the CPU to accepts in
   * flight for the insert's time times {@code (1 - share) / share}, while the queue is below the
   * resume limit.
   */
  void yieldToAccepts(long insertNanos) {
    double share = indexShare;
    if (share >= 1 || accepting.get() == 0 || pressure() >= RESUME_LIMIT || stopped) {
      return;
    }
    long pause = Math.min(MAX_YIELD_NANOS, (long) (insertNanos * (1 - share) / share));
    if (pause > 0) {
      LockSupport.parkNanos(this, pause);
      yieldedNanos.add(pause);
    }
  }

  /** Nanoseconds index workers spent yielding to the accept path since start. */
  public long yieldedNanos() {
    return yieldedNanos.sum();
  }

  /** Hands a reserved, accepted episode to its space's worker. */
  public void submit(MemorySpace space, int ordinal, long sequence, IndexCallback callback) {
    submit(space, ordinal, sequence, callback, Door.EMBEDDED, nanoClock.getAsLong());
  }

  /**
   * As {@link #submit(MemorySpace, int, long, IndexCallback)}, for an episode that came in through
   * {@code door} and was accepted at {@code acceptedNanos} (this queue's nano clock): its index lag
   * and a quarantine are reported with them.
   */
  public void submit(
      MemorySpace space,
      int ordinal,
      long sequence,
      IndexCallback callback,
      Door door,
      long acceptedNanos) {
    submit(new IndexTask(space, ordinal, sequence, callback, door, acceptedNanos));
  }

  /** Hands a task to its space's worker (the embed stage's, once its episode has a vector). */
  void submit(IndexTask task) {
    workers[Math.floorMod(task.space.config().id().hashCode(), workers.length)].offer(task);
  }

  /** The queue's monotonic clock, in nanoseconds (the time base of {@link #submit} stamps). */
  public long nanoTime() {
    return nanoClock.getAsLong();
  }

  /** Depth / capacity. */
  public float pressure() {
    return depth.get() / (float) capacity;
  }

  public int depth() {
    return depth.get();
  }

  public int capacity() {
    return capacity;
  }

  /** Episodes indexed per second, smoothed; 0 until the first samples. */
  public double drainRate() {
    return drainRate;
  }

  /**
   * How long a rejected client should wait: the time to drain down to the resume limit at the
   * current drain rate, bounded to 5 s.
   */
  public int retryAfterMillis() {
    double rate = drainRate;
    double excess = depth.get() - capacity * (double) RESUME_LIMIT;
    if (excess <= 0) {
      return 1;
    }
    if (rate <= 0) {
      return 50;
    }
    return (int) Math.max(1, Math.min(MAX_RETRY_AFTER_MS, Math.ceil(excess / rate * 1000)));
  }

  /** Updates the drain-rate estimate; call periodically from one thread. */
  public void sampleDrainRate() {
    long now = nanoClock.getAsLong();
    long count = indexed.sum();
    long elapsed = now - lastSampleNanos;
    if (elapsed < 50_000_000L) {
      return;
    }
    lastSampleNanos = now;
    long done = count - lastSampleCount;
    lastSampleCount = count;
    if (done == 0 && depth.get() == 0) {
      return; // idle: nothing to learn, keep the last estimate instead of decaying it to zero
    }
    double instant = done * 1e9 / elapsed;
    double previous = drainRate;
    drainRate = previous == 0 ? instant : 0.7 * previous + 0.3 * instant;
  }

  /** Counters for metrics and tests. */
  public IngestStats stats() {
    return new IngestStats(
        depth.get(),
        capacity,
        indexed.sum(),
        workerRestarts.get(),
        quarantined.get(),
        workers.length,
        drainRate,
        stolen.sum());
  }

  /** Waits until everything accepted has been indexed, or the timeout passes. */
  public boolean awaitDrained(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (depth.get() > 0) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(2);
    }
    return true;
  }

  /** Stops the workers; what is still queued stays unindexed. */
  @Override
  public void close() {
    stopped = true;
    for (IndexWorker w : workers) {
      Thread t = w.thread;
      if (t != null) {
        LockSupport.unpark(t);
        try {
          t.join(5_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /**
   * Told of every episode an index worker inserted, after its session was (the consolidation
   * worker's input). Must not block. Set once, before episodes arrive; null: no one listens.
   */
  @FunctionalInterface
  public interface IndexListener {
    void indexed(MemorySpace space, int ordinal, long sequence, IndexCallback callback);
  }

  /** Sets the {@link IndexListener}. */
  public void listen(IndexListener listener) {
    this.listener = listener;
  }

  boolean stopped() {
    return stopped;
  }

  /**
   * Indexes one task on the calling worker thread. A throw from the insert kills the worker (the
   * supervisor retries, then quarantines the episode); a throw from reporting the outcome (metrics,
   * the session's callback) is logged and does not, so it can never quarantine an indexed episode.
   */
  void index(IndexTask task) {
    MemorySpace space = task.space;
    IndexListener listener = this.listener;
    boolean inserted = false;
    if (!space.isDeleted()) {
      faults.beforeIndex(space.config().id(), space.episodeId(task.ordinal));
      space.index(task.ordinal);
      inserted = true;
    }
    try {
      if (inserted) {
        events.indexed(nanoClock.getAsLong() - task.acceptedNanos);
      }
      task.callback.indexed(task.sequence);
      if (!inserted) {
        task.callback.consolidated(task.sequence);
      } else if (listener != null) {
        listener.indexed(space, task.ordinal, task.sequence, task.callback);
      }
    } catch (RuntimeException e) {
      LOG.log(
          Level.ERROR,
          () ->
              "reporting episode '%s' in space %s as indexed failed; it is indexed"
                  .formatted(space.episodeId(task.ordinal), space.config().id()),
          e);
    }
  }

  /** A worker finished a batch of {@code n} tasks (indexed or skipped). */
  void completed(int n) {
    indexed.add(n);
    depth.addAndGet(-n);
  }

  /** Moves up to half of the busiest other worker's queue into {@code into}. */
  void stealInto(IndexWorker thief, List<IndexTask> into) {
    IndexWorker victim = null;
    int most = 0;
    for (IndexWorker w : workers) {
      int q = w.queued.get();
      if (w != thief && q > most) {
        most = q;
        victim = w;
      }
    }
    if (victim == null) {
      return;
    }
    int want = Math.min(IndexWorker.MAX_BATCH, (most + 1) / 2);
    IndexTask task;
    int took = 0;
    while (into.size() < want && (task = victim.poll()) != null) {
      into.add(task);
      took++;
    }
    if (took > 0) {
      stolen.add(took);
    }
  }

  private void start(IndexWorker worker) {
    Thread t = new Thread(worker, "engram-index-" + worker.slot);
    t.setDaemon(true);
    t.setUncaughtExceptionHandler((dead, failure) -> supervise(worker, failure));
    worker.thread = t;
    t.start();
  }

  /**
   * Runs on the dying worker thread: repairs its batch (retry the failing task once, quarantine it
   * the second time) and starts a replacement thread.
   */
  private void supervise(IndexWorker worker, Throwable failure) {
    workerRestarts.incrementAndGet();
    try {
      repair(worker, failure);
    } catch (RuntimeException | Error e) {
      // The worker must come back whatever happened while repairing (a logger or a session that
      // throws): a worker that is not restarted leaves its queue undrained forever.
      LOG.log(Level.ERROR, () -> "repairing index worker %d failed".formatted(worker.slot), e);
    } finally {
      if (!stopped) {
        start(worker);
      }
    }
  }

  /** Retries the failing task once, quarantines it the second time; see {@link #supervise}. */
  private void repair(IndexWorker worker, Throwable failure) {
    if (worker.cursor < worker.batch.size()) {
      IndexTask poison = worker.batch.get(worker.cursor);
      poison.failures++;
      String episodeId = poison.space.episodeId(poison.ordinal);
      if (poison.failures >= 2) {
        quarantined.incrementAndGet();
        events.observations(poison.door, Outcome.QUARANTINED, 1);
        LOG.log(
            Level.ERROR,
            () ->
                "index worker %d died twice on episode '%s' in space %s; quarantined it"
                    .formatted(worker.slot, episodeId, poison.space.config().id()),
            failure);
        String reason =
            "episode quarantined: indexing it failed twice (%s)".formatted(failure.toString());
        if (poison.space.quarantine(poison.ordinal, reason)) {
          record(poison, episodeId, reason);
        }
        worker.batch.remove(worker.cursor);
        depth.decrementAndGet();
        poison.callback.quarantined(poison.sequence, episodeId, reason);
      } else {
        LOG.log(
            Level.WARNING,
            () ->
                "index worker %d died on episode '%s' in space %s; restarting it and retrying"
                    .formatted(worker.slot, episodeId, poison.space.config().id()),
            failure);
      }
    } else {
      LOG.log(
          Level.WARNING,
          () -> "index worker %d died; restarting it".formatted(worker.slot),
          failure);
    }
  }

  /** Records a quarantine durably; a failure is logged, never thrown (we are the supervisor). */
  private void record(IndexTask poison, String episodeId, String reason) {
    try {
      recorder.quarantined(poison.space, poison.ordinal, episodeId, reason);
    } catch (RuntimeException e) {
      LOG.log(
          Level.ERROR,
          () ->
              ("could not record the quarantine of episode '%s' in space %s durably; it stays"
                      + " quarantined until restart, then is retried under supervision")
                  .formatted(episodeId, poison.space.config().id()),
          e);
    }
  }
}
