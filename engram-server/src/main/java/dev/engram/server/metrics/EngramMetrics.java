package dev.engram.server.metrics;

import dev.engram.core.Engram;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.ingest.IngestStats;
import dev.engram.core.model.Limit;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.SpaceStats;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.SessionEvent.ResendReason;
import dev.engram.core.session.SessionEvent.StreamState;
import dev.engram.core.storage.StorageStats;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import dev.engram.core.telemetry.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.ToLongFunction;

/**
 * The server's Prometheus metrics: receives the engine's {@link EngineEvents} into Micrometer
 * meters and reads the engine's own counters (queue, spaces, storage) at scrape time. The full list
 * of series, with what each means, is in docs/operations.md.
 *
 * <p>Naming: {@code engram_} prefix, base units ({@code _seconds}, {@code _bytes}), {@code _total}
 * on counters only; latencies are histograms with fixed buckets (so they aggregate across nodes)
 * whose bounds include the design's 1 ms visibility and 100 ms index bounds. Labels are bounded:
 * {@code door} (4 values), {@code outcome} (5), {@code mode} (2), {@code code} (the gRPC codes),
 * {@code reason}, {@code state}; {@code space} appears only on the per-space series, and only for
 * the {@link #maxSpaceSeries} spaces with the most episodes ({@code engram_spaces} counts all).
 *
 * <p>Concurrency: event methods run on transport threads, index workers and the storage threads;
 * they look up a pre-built meter in an array (registered once, on first use, by Micrometer's own
 * thread-safe registration) and add to it, so the accept path neither locks nor allocates. {@link
 * #scrape} may run on any thread; it refreshes the scrape-time snapshots (per-space rows, storage
 * sizes) under this object's monitor, so concurrent scrapes do not interleave their refreshes.
 */
public final class EngramMetrics implements EngineEvents {
  /** Default cap on the spaces that get their own per-space series. */
  public static final int DEFAULT_MAX_SPACE_SERIES = 100;

  /** Histogram bucket bounds, seconds: 50 µs to 10 s, with 1 ms and 100 ms exact. */
  static final double[] BUCKETS = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5, 5, 10
  };

  private static final Door[] DOORS = Door.values();
  private static final Outcome[] OUTCOMES = Outcome.values();
  private static final StatusCode[] CODES = StatusCode.values();
  private static final RecallMode[] MODES = RecallMode.values();

  private final MeterRegistry registry;
  private final PrometheusMeterRegistry prometheus; // null: a no-op registry (benchmarks)
  private final int maxSpaceSeries;
  private final AtomicReferenceArray<Counter> observations =
      new AtomicReferenceArray<>(DOORS.length * OUTCOMES.length);
  private final AtomicReferenceArray<Counter> errors =
      new AtomicReferenceArray<>(DOORS.length * CODES.length);
  private final AtomicReferenceArray<Timer> recalls =
      new AtomicReferenceArray<>(DOORS.length * MODES.length);
  private final AtomicReferenceArray<Counter> recallCounts =
      new AtomicReferenceArray<>(DOORS.length * MODES.length);
  private final AtomicReferenceArray<Timer> acks = new AtomicReferenceArray<>(DOORS.length);
  private final AtomicInteger[] streams = new AtomicInteger[DOORS.length];
  private final Counter[] resends = new Counter[ResendReason.values().length];
  private final Counter[] limitRefusals = new Counter[Limit.values().length];
  private final Counter[] transitions = new Counter[StreamState.values().length];
  private final Timer visibility;
  private final Timer indexLag;
  private final Timer embedLag;
  private final Timer commit;
  private final Counter commitFailures;
  private final Timer snapshot;
  private final Counter snapshotFailures;
  private final MultiGauge spaceEpisodes;
  private final MultiGauge spaceIndexed;
  private final MultiGauge spaceFresh;
  private final MultiGauge spaceMemory;
  private volatile StorageStats storage;
  private volatile Engram engine;

  private EngramMetrics(MeterRegistry registry, PrometheusMeterRegistry prometheus, int maxSpaces) {
    if (maxSpaces < 0) {
      throw new IllegalArgumentException("maxSpaceSeries must be >= 0, got " + maxSpaces);
    }
    this.registry = registry;
    this.prometheus = prometheus;
    this.maxSpaceSeries = maxSpaces;
    for (Door door : DOORS) {
      AtomicInteger active = new AtomicInteger();
      streams[door.ordinal()] = active;
      Gauge.builder("engram.streams.active", active, AtomicInteger::get)
          .description("Transport streams open now, by door")
          .tag("door", door.label())
          .register(registry);
    }
    for (ResendReason reason : ResendReason.values()) {
      resends[reason.ordinal()] =
          Counter.builder("engram.resends")
              .description("Resend requests sent to clients, by reason")
              .tag("reason", reason.name().toLowerCase(Locale.ROOT))
              .register(registry);
    }
    for (Limit limit : Limit.values()) {
      limitRefusals[limit.ordinal()] =
          Counter.builder("engram.limit.refusals")
              .description("Inputs refused at a configured limit, by limit")
              .tag("limit", limit.label())
              .register(registry);
    }
    for (StreamState state : StreamState.values()) {
      transitions[state.ordinal()] =
          Counter.builder("engram.backpressure.transitions")
              .description("Session backpressure state changes, by the state entered")
              .tag("state", state.name().toLowerCase(Locale.ROOT))
              .register(registry);
    }
    visibility =
        histogram("engram.visibility.lag", "From accept to searchable (write set committed)")
            .register(registry);
    indexLag =
        histogram("engram.index.lag", "From accept to in the vector index").register(registry);
    embedLag =
        histogram("engram.embed.lag", "From accept to embedded, for text-only episodes")
            .register(registry);
    commit =
        histogram("engram.storage.commit", "Time to make one write set durable").register(registry);
    commitFailures =
        Counter.builder("engram.storage.commit.failures")
            .description("Write sets the store failed to make durable")
            .register(registry);
    snapshot =
        histogram("engram.snapshot.duration", "Time to write one space's graph snapshot")
            .register(registry);
    snapshotFailures =
        Counter.builder("engram.snapshot.failures")
            .description("Graph snapshots that failed (the previous one stays)")
            .register(registry);
    spaceEpisodes =
        MultiGauge.builder("engram.space.episodes")
            .description("Episodes stored in the space (capped set of spaces)")
            .register(registry);
    spaceIndexed =
        MultiGauge.builder("engram.space.indexed")
            .description("Episodes in the space's vector index (capped set of spaces)")
            .register(registry);
    spaceFresh =
        MultiGauge.builder("engram.space.fresh.segment.size")
            .description("Episodes searchable but not yet in the index (capped set of spaces)")
            .register(registry);
    spaceMemory =
        MultiGauge.builder("engram.space.index.memory")
            .description("Approximate bytes held by the space's index (capped set of spaces)")
            .baseUnit("bytes")
            .register(registry);
    Gauge.builder("engram.build.info", () -> 1)
        .description("Build information; the value is always 1")
        .tags(Tags.of("version", version(), "jdk", Runtime.version().toString()))
        .register(registry);
  }

  /** Metrics exported in the Prometheus text format, with per-space series for up to 100 spaces. */
  public static EngramMetrics prometheus() {
    return prometheus(DEFAULT_MAX_SPACE_SERIES);
  }

  /** As {@link #prometheus()}, with per-space series for up to {@code maxSpaceSeries} spaces. */
  public static EngramMetrics prometheus(int maxSpaceSeries) {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    // Two of Micrometer's processor meters break Prometheus naming (promtool check metrics):
    // system_cpu_count is a gauge named like a histogram part, and process_cpu_time_ns_total
    // abbreviates its unit. The first is renamed, the second dropped (process_cpu_usage stays).
    registry
        .config()
        .meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"))
        .meterFilter(
            new MeterFilter() {
              @Override
              public Meter.Id map(Meter.Id id) {
                return id.getName().equals("system.cpu.count") ? id.withName("system.cpus") : id;
              }
            });
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    return new EngramMetrics(registry, registry, maxSpaceSeries);
  }

  /**
   * Metrics on a registry that keeps nothing: every event still goes through the same calls, but
   * the meters are no-ops. For measuring what metrics cost; {@link #scrape} returns "".
   */
  public static EngramMetrics noop() {
    return new EngramMetrics(new CompositeMeterRegistry(), null, 0);
  }

  /** Registers the gauges that read {@code engine}'s own counters; call once it is running. */
  public void bind(Engram engine) {
    this.engine = engine;
    Gauge.builder("engram.queue.depth", engine, e -> e.ingestStats().depth())
        .description("Episodes reserved, queued or being indexed")
        .register(registry);
    Gauge.builder("engram.queue.capacity", engine, e -> e.ingestStats().capacity())
        .description("Ingest queue capacity")
        .register(registry);
    Gauge.builder("engram.queue.pressure", engine, EngramMetrics::pressure)
        .description("Queue depth / capacity; backpressure at 0.8, refusals at 0.9")
        .baseUnit("ratio")
        .register(registry);
    Gauge.builder("engram.queue.pressure.state", engine, EngramMetrics::pressureState)
        .description("0 below the soft limit, 1 at or above it (backpressure), 2 at the hard limit")
        .register(registry);
    Gauge.builder("engram.index.drain.rate", engine, e -> e.ingestStats().drainRate())
        .description("Smoothed episodes indexed per second")
        .register(registry);
    Gauge.builder("engram.embed.backlog", engine, Engram::embedBacklog)
        .description("Text-only episodes accepted and waiting to be embedded (also in queue depth)")
        .register(registry);
    Gauge.builder("engram.index.workers", engine, e -> e.ingestStats().workers())
        .description("Index worker threads")
        .register(registry);
    FunctionCounter.builder("engram.indexed", engine, e -> e.ingestStats().indexed())
        .description("Episodes the index workers finished since start")
        .register(registry);
    FunctionCounter.builder("engram.work.stolen", engine, e -> e.ingestStats().stolen())
        .description("Index tasks idle workers took from busier ones")
        .register(registry);
    FunctionCounter.builder("engram.worker.restarts", engine, e -> e.ingestStats().workerRestarts())
        .description("Index worker threads the supervisor restarted after a crash")
        .register(registry);
    FunctionCounter.builder("engram.quarantined", engine, e -> e.ingestStats().quarantined())
        .description("Episodes quarantined since start (killed an index worker twice)")
        .register(registry);
    Gauge.builder("engram.sessions.retained", engine, e -> e.sessions().retainedSessions())
        .description("Sessions kept for resume, attached or not")
        .register(registry);
    Gauge.builder("engram.sessions.attached", engine, e -> e.sessions().attachedNow())
        .description("Sessions attached to a stream now")
        .register(registry);
    Gauge.builder("engram.spaces", engine, e -> e.listSpaces().size())
        .description("Memory spaces defined (per-space series cover at most the cap)")
        .register(registry);
    Gauge.builder("engram.ready", engine, e -> e.accepting() ? 1 : 0)
        .description("1 when recovery has finished and the server accepts work (as /readyz)")
        .register(registry);
    if (engine.store() != null) {
      storageGauge(
          "engram.storage.live.data", "RocksDB estimate of live data", s -> s.liveDataBytes());
      storageGauge("engram.storage.wal", "Bytes in write-ahead log files", s -> s.walBytes());
      storageGauge(
          "engram.storage.pending.compaction",
          "RocksDB estimate of bytes compaction still has to rewrite",
          s -> s.pendingCompactionBytes());
      storageGauge(
          "engram.storage.disk", "Bytes the database occupies on disk", s -> s.diskBytes());
      storageGauge(
          "engram.storage.filesystem.free",
          "Bytes free on the data directory's file system",
          s -> s.freeBytes());
      storageGauge(
          "engram.storage.filesystem.size",
          "Size of the data directory's file system",
          s -> s.totalBytes());
      Gauge.builder("engram.payload.cache", engine, e -> e.store().payloadCacheStats().bytes())
          .description("Estimated heap bytes of cached episode content and metadata")
          .baseUnit("bytes")
          .register(registry);
      Gauge.builder(
              "engram.payload.cache.capacity",
              engine,
              e -> e.store().payloadCacheStats().capacityBytes())
          .description("The payload cache's bound (--payload-cache-mb)")
          .baseUnit("bytes")
          .register(registry);
      FunctionCounter.builder(
              "engram.payload.cache.hits", engine, e -> e.store().payloadCacheStats().hits())
          .description("Payload reads the cache answered")
          .register(registry);
      FunctionCounter.builder(
              "engram.payload.cache.misses", engine, e -> e.store().payloadCacheStats().misses())
          .description("Payload reads that went to the store (RocksDB point reads)")
          .register(registry);
    }
    refresh();
  }

  /** The registry (for binding more meters, and for tests). */
  public MeterRegistry registry() {
    return registry;
  }

  /**
   * The current metrics in the Prometheus text format (version 0.0.4), after refreshing the
   * scrape-time snapshots.
   */
  public String scrape() {
    refresh();
    return prometheus == null ? "" : prometheus.scrape();
  }

  /** The content type of {@link #scrape}'s text. */
  public static String contentType() {
    return "text/plain; version=0.0.4; charset=utf-8";
  }

  /** Rereads the per-space rows (the largest spaces up to the cap) and the storage sizes. */
  public synchronized void refresh() {
    Engram e = engine;
    if (e == null) {
      return;
    }
    storage = e.storageStats();
    List<SpaceStats> top =
        e.spaceStats().stream()
            .sorted(
                Comparator.comparingLong(SpaceStats::episodes)
                    .reversed()
                    .thenComparing(s -> s.id().value()))
            .limit(maxSpaceSeries)
            .toList();
    spaceEpisodes.register(rows(top, SpaceStats::episodes), true);
    spaceIndexed.register(rows(top, SpaceStats::indexed), true);
    spaceFresh.register(rows(top, SpaceStats::fresh), true);
    spaceMemory.register(rows(top, SpaceStats::indexMemoryBytes), true);
  }

  // ---- EngineEvents ----

  @Override
  public void observations(Door door, Outcome outcome, int count) {
    if (count > 0) {
      observationCounter(door, outcome).increment(count);
    }
  }

  @Override
  public void acked(Door door, long nanos) {
    Timer t = acks.get(door.ordinal());
    if (t == null) {
      t =
          histogram("engram.ack.latency", "From a stream message's arrival to its ack")
              .tag("door", door.label())
              .register(registry);
      acks.set(door.ordinal(), t);
    }
    t.record(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void visible(long lagNanos) {
    visibility.record(lagNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void embedded(long lagNanos) {
    embedLag.record(lagNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void indexed(long lagNanos) {
    indexLag.record(lagNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void recalled(Door door, RecallMode mode, long nanos) {
    int i = door.ordinal() * MODES.length + mode.ordinal();
    Timer t = recalls.get(i);
    Counter c = recallCounts.get(i);
    if (t == null || c == null) {
      Tags tags = Tags.of("door", door.label(), "mode", mode.name().toLowerCase(Locale.ROOT));
      t =
          histogram("engram.recall.latency", "Time to answer one recall")
              .tags(tags)
              .register(registry);
      c =
          Counter.builder("engram.recalls")
              .description("Recalls answered, by door and mode")
              .tags(tags)
              .register(registry);
      recalls.set(i, t);
      recallCounts.set(i, c);
    }
    t.record(nanos, TimeUnit.NANOSECONDS);
    c.increment();
  }

  @Override
  public void failed(Door door, StatusCode code) {
    int i = door.ordinal() * CODES.length + code.ordinal();
    Counter c = errors.get(i);
    if (c == null) {
      c =
          Counter.builder("engram.errors")
              .description(
                  "Errors answered to clients (rejections, failed calls and streams), by code")
              .tags("door", door.label(), "code", code.name())
              .register(registry);
      errors.set(i, c);
    }
    c.increment();
  }

  @Override
  public void limitRefused(Door door, Limit limit) {
    limitRefusals[limit.ordinal()].increment();
  }

  @Override
  public void resent(ResendReason reason) {
    resends[reason.ordinal()].increment();
  }

  @Override
  public void stateChanged(StreamState state) {
    transitions[state.ordinal()].increment();
  }

  @Override
  public void streamOpened(Door door) {
    streams[door.ordinal()].incrementAndGet();
  }

  @Override
  public void streamClosed(Door door) {
    streams[door.ordinal()].decrementAndGet();
  }

  @Override
  public void storageCommitted(long nanos, boolean ok) {
    if (ok) {
      commit.record(nanos, TimeUnit.NANOSECONDS);
    } else {
      commitFailures.increment();
    }
  }

  @Override
  public void snapshotted(long nanos, boolean ok) {
    if (ok) {
      snapshot.record(nanos, TimeUnit.NANOSECONDS);
    } else {
      snapshotFailures.increment();
    }
  }

  // ---- internals ----

  private Counter observationCounter(Door door, Outcome outcome) {
    int i = door.ordinal() * OUTCOMES.length + outcome.ordinal();
    Counter c = observations.get(i);
    if (c == null) {
      c =
          Counter.builder("engram.observations")
              .description("Observations (episodes) by door and outcome")
              .tags("door", door.label(), "outcome", outcome.label())
              .register(registry); // idempotent: a racing thread gets the same counter
      observations.set(i, c);
    }
    return c;
  }

  private static Timer.Builder histogram(String name, String description) {
    Duration[] bounds = new Duration[BUCKETS.length];
    for (int i = 0; i < BUCKETS.length; i++) {
      bounds[i] = Duration.ofNanos(Math.round(BUCKETS[i] * 1e9));
    }
    return Timer.builder(name)
        .description(description)
        .serviceLevelObjectives(bounds)
        .minimumExpectedValue(bounds[0])
        .maximumExpectedValue(bounds[bounds.length - 1]);
  }

  private void storageGauge(String name, String description, ToLongFunction<StorageStats> value) {
    Gauge.builder(
            name,
            this,
            m -> {
              StorageStats s = m.storage;
              return s == null ? Double.NaN : value.applyAsLong(s);
            })
        .description(description)
        .baseUnit("bytes")
        .register(registry);
  }

  private static List<MultiGauge.Row<?>> rows(
      List<SpaceStats> spaces, ToLongFunction<SpaceStats> value) {
    return spaces.stream()
        .<MultiGauge.Row<?>>map(
            s -> MultiGauge.Row.of(Tags.of("space", s.id().value()), value.applyAsLong(s)))
        .toList();
  }

  private static double pressure(Engram e) {
    IngestStats s = e.ingestStats();
    return s.depth() / (double) s.capacity();
  }

  private static int pressureState(Engram e) {
    double p = pressure(e);
    return p >= IngestQueue.HARD_LIMIT ? 2 : p >= IngestQueue.SOFT_LIMIT ? 1 : 0;
  }

  private static String version() {
    String v = EngramMetrics.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }
}
