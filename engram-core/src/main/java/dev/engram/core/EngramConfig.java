package dev.engram.core;

import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.embed.Embedders;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.ingest.IndexFaultInjector;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.recall.RecallTuning;
import dev.engram.core.telemetry.EngineEvents;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Everything the engine needs, injected: sizes, the index implementation, clocks and the test-only
 * fault hook. Build one with {@link #builder()}; each setter validates its value.
 *
 * @param queueCapacity admission queue capacity (episodes)
 * @param workers index worker threads
 * @param efSearch recall search width (default 100: wider than the index's own default of 64, so an
 *     episode is found by its own vector even on hard, unclustered data; measured on random 32-d
 *     vectors, ef 64 missed 1 in 5,000 and ef 100 none)
 * @param indexFactory makes an empty vector index for a new space
 * @param clock wall-clock time for episodes that carry none
 * @param nanoClock monotonic time for rates and timeouts
 * @param faults test-only hook called before each episode is indexed
 * @param tickMillis how often acks and status are sent while there is news
 * @param maxRetainedSessions detached sessions kept for resume; beyond it the longest idle is
 *     retired
 * @param maxAttachedSessions sessions attached to a stream at once; one more is refused with {@code
 *     RESOURCE_EXHAUSTED}
 * @param drainTimeout longest wait for indexing on a draining close or shutdown
 * @param limits the largest message and batch the server takes, and the bound on recall answers
 * @param events the metrics hook ({@link EngineEvents#NONE} when nothing listens)
 * @param consolidation the consolidation worker's settings (on by default)
 * @param embedders the server-side embedders spaces may name ({@link Embedders#NONE}: clients send
 *     every vector)
 * @param recall the ranking knobs of {@code HYBRID} and {@code ASSOCIATIVE} recall
 * @param indexShare the share of time each index worker keeps indexing while accepts are in flight
 *     and the queue is below half full, in (0, 1]; 1 = never yield to the accept path (see {@link
 *     dev.engram.core.ingest.IngestQueue})
 * @param warmup how long a server may spend warming the distance kernels and the accept path before
 *     it reports ready ({@link Warmup}); zero = no warm-up (the engine itself never warms up, only
 *     {@code EngramServer.start} does)
 */
public record EngramConfig(
    int queueCapacity,
    int workers,
    int efSearch,
    Function<SpaceConfig, VectorIndex> indexFactory,
    InstantSource clock,
    LongSupplier nanoClock,
    IndexFaultInjector faults,
    int tickMillis,
    int maxRetainedSessions,
    int maxAttachedSessions,
    Duration drainTimeout,
    MessageLimits limits,
    EngineEvents events,
    ConsolidationConfig consolidation,
    Embedders embedders,
    RecallTuning recall,
    double indexShare,
    Duration warmup) {

  public EngramConfig {
    Objects.requireNonNull(indexFactory, "indexFactory");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(nanoClock, "nanoClock");
    Objects.requireNonNull(faults, "faults");
    Objects.requireNonNull(drainTimeout, "drainTimeout");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(events, "events");
    Objects.requireNonNull(consolidation, "consolidation");
    Objects.requireNonNull(embedders, "embedders");
    Objects.requireNonNull(recall, "recall");
    Objects.requireNonNull(warmup, "warmup");
  }

  /** This configuration with {@code events} as its metrics hook. */
  public EngramConfig withEvents(EngineEvents events) {
    return new EngramConfig(
        queueCapacity,
        workers,
        efSearch,
        indexFactory,
        clock,
        nanoClock,
        faults,
        tickMillis,
        maxRetainedSessions,
        maxAttachedSessions,
        drainTimeout,
        limits,
        events,
        consolidation,
        embedders,
        recall,
        indexShare,
        warmup);
  }

  /** The default {@link #indexShare}: see docs/architecture.md, "Acceptance first". */
  public static final double DEFAULT_INDEX_SHARE = 1;

  public static Builder builder() {
    return new Builder();
  }

  /** Builds an {@link EngramConfig}; defaults suit a server on one machine. */
  public static final class Builder {
    private int queueCapacity = 10_000;
    private int workers = Runtime.getRuntime().availableProcessors();
    private int efSearch = 100;
    private Function<SpaceConfig, VectorIndex> indexFactory = Indexes::hnsw;
    private InstantSource clock = InstantSource.system();
    private LongSupplier nanoClock = System::nanoTime;
    private IndexFaultInjector faults = IndexFaultInjector.NONE;
    private int tickMillis = 5;
    private int maxRetainedSessions = 10_000;
    private int maxAttachedSessions = 10_000;
    private Duration drainTimeout = Duration.ofSeconds(10);
    private MessageLimits limits = MessageLimits.defaults();
    private EngineEvents events = EngineEvents.NONE;
    private ConsolidationConfig consolidation = ConsolidationConfig.defaults();
    private Embedders embedders = Embedders.NONE;
    private RecallTuning recall = RecallTuning.defaults();
    private double indexShare = DEFAULT_INDEX_SHARE;
    private Duration warmup = Duration.ZERO;

    private Builder() {}

    public Builder queueCapacity(int capacity) {
      if (capacity < 10) {
        throw new IllegalArgumentException("queue capacity must be at least 10, got " + capacity);
      }
      this.queueCapacity = capacity;
      return this;
    }

    public Builder workers(int count) {
      if (count < 1 || count > 1024) {
        throw new IllegalArgumentException("workers must be 1-1024, got " + count);
      }
      this.workers = count;
      return this;
    }

    public Builder efSearch(int ef) {
      if (ef < 1) {
        throw new IllegalArgumentException("efSearch must be positive, got " + ef);
      }
      this.efSearch = ef;
      return this;
    }

    public Builder indexFactory(Function<SpaceConfig, VectorIndex> factory) {
      this.indexFactory = Objects.requireNonNull(factory, "indexFactory");
      return this;
    }

    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public Builder nanoClock(LongSupplier nanoClock) {
      this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
      return this;
    }

    /** Test-only: a hook that may throw to kill an index worker. */
    public Builder faults(IndexFaultInjector faults) {
      this.faults = Objects.requireNonNull(faults, "faults");
      return this;
    }

    /** How the consolidation worker runs ({@link ConsolidationConfig#off()}: not at all). */
    public Builder consolidation(ConsolidationConfig consolidation) {
      this.consolidation = Objects.requireNonNull(consolidation, "consolidation");
      return this;
    }

    public Builder tickMillis(int millis) {
      if (millis < 1) {
        throw new IllegalArgumentException("tickMillis must be positive, got " + millis);
      }
      this.tickMillis = millis;
      return this;
    }

    public Builder maxRetainedSessions(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxRetainedSessions must be positive, got " + max);
      }
      this.maxRetainedSessions = max;
      return this;
    }

    public Builder maxAttachedSessions(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxAttachedSessions must be positive, got " + max);
      }
      this.maxAttachedSessions = max;
      return this;
    }

    public Builder drainTimeout(Duration timeout) {
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("drainTimeout must not be negative, got " + timeout);
      }
      this.drainTimeout = timeout;
      return this;
    }

    /** The largest message the server reads and the bound on a recall answer (bytes). */
    public Builder maxMessageBytes(int bytes) {
      this.limits = limits.withMaxMessageBytes(bytes);
      return this;
    }

    /** The most episodes in one stream batch or one unary {@code Remember}. */
    public Builder maxBatchSize(int episodes) {
      this.limits = limits.withMaxBatchSize(episodes);
      return this;
    }

    /** The most memory spaces the server holds; creating one more is refused. */
    public Builder maxSpaces(int spaces) {
      this.limits = limits.withMaxSpaces(spaces);
      return this;
    }

    /**
     * The most streams open at once with one token (0: no limit); one more is refused. Applies only
     * with authentication on.
     */
    public Builder maxStreamsPerToken(int streams) {
      this.limits = limits.withMaxStreamsPerToken(streams);
      return this;
    }

    /**
     * The most observations per second one token may send, with a burst of one second's worth (0:
     * no limit). Applies only with authentication on.
     */
    public Builder tokenRate(int perSecond) {
      this.limits = limits.withTokenRate(perSecond);
      return this;
    }

    /** Where the engine reports countable events (the server's metrics). */
    public Builder events(EngineEvents events) {
      this.events = Objects.requireNonNull(events, "events");
      return this;
    }

    /** The server-side embedders spaces may name (e.g. {@link Embedders#discover()}). */
    public Builder embedders(Embedders embedders) {
      this.embedders = Objects.requireNonNull(embedders, "embedders");
      return this;
    }

    /** The ranking knobs of {@code HYBRID} and {@code ASSOCIATIVE} recall. */
    public Builder recall(RecallTuning recall) {
      this.recall = Objects.requireNonNull(recall, "recall");
      return this;
    }

    /**
     * The share of time each index worker keeps indexing while accepts are in flight and the queue
     * is below half full: 1 (the default) = never yield, 0.25 = a quarter of the time.
     */
    public Builder indexShare(double share) {
      if (!(share > 0 && share <= 1)) {
        throw new IllegalArgumentException("indexShare must be in (0, 1], got " + share);
      }
      this.indexShare = share;
      return this;
    }

    /** How long a server may warm up before it reports ready; zero = none (the default). */
    public Builder warmup(Duration budget) {
      if (budget.isNegative()) {
        throw new IllegalArgumentException("warmup must not be negative, got " + budget);
      }
      this.warmup = budget;
      return this;
    }

    public EngramConfig build() {
      return new EngramConfig(
          queueCapacity,
          workers,
          efSearch,
          indexFactory,
          clock,
          nanoClock,
          faults,
          tickMillis,
          maxRetainedSessions,
          maxAttachedSessions,
          drainTimeout,
          limits,
          events,
          consolidation,
          embedders,
          recall,
          indexShare,
          warmup);
    }
  }
}
