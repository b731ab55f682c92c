package dev.engram.bench.load;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The figures of one run: latency recorders (microseconds), counters and a per-second timeline.
 *
 * <p>Concurrency: recorders and adders take values from any thread; only the sampler thread calls
 * {@link #sample} (it is the single reader of every {@link Recorder}, HdrHistogram's contract) and
 * {@link #finish}; the totals are read after {@link #finish}.
 */
final class Metrics {
  final Recorder ack = recorder();
  final Recorder indexLag = recorder();
  final Recorder visibility = recorder();
  final Recorder recall = recorder();
  final Recorder ackCold = recorder();
  final Recorder visibilityCold = recorder();
  final Histogram ackTotal = histogram();
  final Histogram indexLagTotal = histogram();
  final Histogram visibilityTotal = histogram();
  final Histogram recallTotal = histogram();
  final Histogram ackColdTotal = histogram();
  final Histogram visibilityColdTotal = histogram();
  final LongAdder acked = new LongAdder();
  final LongAdder observed = new LongAdder();
  final LongAdder recalls = new LongAdder();
  final AtomicLong heapHighWater = new AtomicLong();
  final List<Second> timeline = new ArrayList<>();
  private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
  private final boolean inProcess;
  private final long warmupNanos;
  private volatile long start = System.nanoTime();
  private long lastAcked;
  private long lastSampleNanos = start;
  private volatile long coldUntil;
  private volatile boolean coldKnown; // false: no server start seen (nothing is cold)

  /** One second of the run. */
  record Second(
      double t, double ackedPerSecond, double ackP50Ms, double ackP99Ms, double recallP99Ms) {}

  Metrics(boolean inProcess) {
    this(inProcess, Duration.ZERO);
  }

  /**
   * @param warmup the first part of the run, charted but left out of the percentile totals (JIT
   *     compilation and connection set-up would otherwise dominate the tail)
   */
  Metrics(boolean inProcess, Duration warmup) {
    this.inProcess = inProcess;
    this.warmupNanos = warmup.toNanos();
  }

  long startNanos() {
    return start;
  }

  /** The first seconds after a server started, whose figures are kept apart as the cold ones. */
  static final Duration COLD = Duration.ofSeconds(10);

  /** The server started (reported ready) at {@code nanos}: the {@link #COLD} window begins. */
  void serverStarted(long nanos) {
    coldUntil = nanos + COLD.toNanos();
    coldKnown = true;
  }

  /** Whether an event at {@code nanos} (an observe call) falls in the cold window. */
  boolean cold(long nanos) {
    return coldKnown && nanos - coldUntil < 0;
  }

  /** Starts the clock again (after a calibration phase), before any sampling. */
  void restart() {
    start = System.nanoTime();
    lastSampleNanos = start;
  }

  /** Heap sampling: call often (every ~100 ms) from the sampler thread. */
  void sampleHeap() {
    if (inProcess) {
      heapHighWater.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
    }
  }

  /** Closes a one-second bucket. Sampler thread only. */
  void sample() {
    long now = System.nanoTime();
    Histogram a = ack.getIntervalHistogram();
    Histogram r = recall.getIntervalHistogram();
    Histogram lag = indexLag.getIntervalHistogram();
    Histogram seen = visibility.getIntervalHistogram();
    if (now - start > warmupNanos) {
      ackTotal.add(a);
      recallTotal.add(r);
      indexLagTotal.add(lag);
      visibilityTotal.add(seen);
    }
    long total = acked.sum();
    double seconds = (now - lastSampleNanos) / 1e9;
    timeline.add(
        new Second(
            (now - start) / 1e9,
            (total - lastAcked) / seconds,
            a.getTotalCount() == 0 ? 0 : a.getValueAtPercentile(50) / 1000.0,
            a.getTotalCount() == 0 ? 0 : a.getValueAtPercentile(99) / 1000.0,
            r.getTotalCount() == 0 ? 0 : r.getValueAtPercentile(99) / 1000.0));
    lastAcked = total;
    lastSampleNanos = now;
  }

  /** Folds in what the recorders hold since the last sample. Sampler thread (or after it). */
  void finish() {
    ackColdTotal.add(ackCold.getIntervalHistogram());
    visibilityColdTotal.add(visibilityCold.getIntervalHistogram());
    ackTotal.add(ack.getIntervalHistogram());
    recallTotal.add(recall.getIntervalHistogram());
    indexLagTotal.add(indexLag.getIntervalHistogram());
    visibilityTotal.add(visibility.getIntervalHistogram());
  }

  /** A percentile in milliseconds, or null if nothing was recorded. */
  static Double ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? null : h.getValueAtPercentile(percentile) / 1000.0;
  }

  private static Recorder recorder() {
    return new Recorder(3_600_000_000L, 3);
  }

  private static Histogram histogram() {
    return new Histogram(3_600_000_000L, 3);
  }
}
