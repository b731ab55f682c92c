package dev.engram.core;

import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceId;
import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.core.session.StreamConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Warms the JIT before a server reports ready, so its first clients do not pay for the Vector API
 * running unoptimised (it is many times slower until C2 compiles the distance kernels) and for the
 * interpreted accept path.
 *
 * <p>How: first the distance kernels alone ({@link VectorMath#dot} and {@link
 * VectorMath#squaredDistance} over {@link #DIMENSION}-d rows of one array, as the index calls them)
 * until a call is as fast as a compiled one or a third of the budget is spent; then a scratch
 * in-memory engine (its own index workers, consolidation off, nothing stored) takes stream messages
 * of 100 random unit vectors of {@link #DIMENSION} dimensions through the same session, validation,
 * admission, fresh segment and HNSW insert code as a real stream, with a recall after each message,
 * until the budget is spent or {@link #MAX_EPISODES} are accepted; then it waits (within the
 * budget) for the index to catch up and closes the engine. The compiled code stays: the JIT's
 * profile is per method, not per engine. The gRPC door, protobuf decoding and RocksDB are not
 * exercised (they are warm within a few hundred messages).
 *
 * <p>Thread-safety: {@link #run} may be called from any thread; each call uses its own engine.
 */
public final class Warmup {
  /** The scratch space's dimension (the kernels' compiled loops do not depend on it). */
  static final int DIMENSION = 384;

  /** More than this many episodes never make the compiled code better. */
  static final int MAX_EPISODES = 30_000;

  private static final int BATCH = 100;

  private Warmup() {}

  /**
   * What one warm-up did.
   *
   * @param took how long it ran
   * @param episodes episodes accepted by the scratch engine
   * @param recalls recalls it answered
   */
  public record Report(Duration took, long kernelCalls, int episodes, int recalls) {}

  /** Warms up for at most about {@code budget}; a zero budget does nothing. */
  public static Report run(Duration budget) {
    long start = System.nanoTime();
    if (budget.isZero() || budget.isNegative()) {
      return new Report(Duration.ZERO, 0, 0, 0);
    }
    long deadline = start + budget.toNanos();
    long kernelCalls = warmKernels(start + budget.toNanos() / 3);
    SpaceId space = SpaceId.of("engram-warmup");
    SplittableRandom random = new SplittableRandom(42);
    int episodes = 0;
    int recalls = 0;
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(4 * MAX_EPISODES)
            .workers(Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors())))
            .consolidation(ConsolidationConfig.off())
            .indexShare(1)
            .build();
    try (Engram engine = new Engram(config)) {
      engine.createSpace(space, DIMENSION, Metric.COSINE, "");
      StreamConnection stream = engine.connect(DISCARD);
      stream.onInit(space.value(), "");
      while (episodes < MAX_EPISODES && System.nanoTime() < deadline) {
        List<Episode> batch = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH; i++) {
          batch.add(
              new Episode(
                  "w" + (episodes + i),
                  unit(random),
                  "",
                  Instant.ofEpochSecond(1_700_000_000L + episodes + i),
                  1f,
                  Map.of()));
        }
        stream.onObservations("", episodes + 1, batch);
        episodes += BATCH;
        engine.recall(
            space,
            new RecallQuery(
                "w", space.value(), unit(random), "", 10, 0f, RecallMode.SIMILARITY, false));
        recalls++;
      }
      stream.onClose(false);
      long left = deadline - System.nanoTime();
      if (left > 0) {
        try {
          awaitIndexed(engine, Duration.ofNanos(left));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    return new Report(Duration.ofNanos(System.nanoTime() - start), kernelCalls, episodes, recalls);
  }

  /** The kernels are compiled once 1,000 calls take less than this (about 10x a compiled call). */
  private static final long COMPILED_NANOS_PER_1000 = 2_000_000;

  /**
   * Calls the kernels in rounds of 1,000 until a round is fast (C2 has compiled them) or the
   * deadline passes; returns the number of calls.
   */
  private static long warmKernels(long deadline) {
    int rows = 64;
    float[] data = new float[rows * DIMENSION];
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) random.nextDouble();
    }
    float[] query = unit(random);
    long calls = 0;
    float sink = 0;
    while (System.nanoTime() < deadline) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 1000; i++) {
        int row = (i % rows) * DIMENSION;
        sink +=
            (i & 1) == 0
                ? VectorMath.dot(query, 0, data, row, DIMENSION)
                : VectorMath.squaredDistance(query, 0, data, row, DIMENSION);
      }
      calls += 1000;
      if (System.nanoTime() - t0 < COMPILED_NANOS_PER_1000 && calls >= 20_000) {
        break;
      }
    }
    if (sink == Float.MAX_VALUE) {
      query[0] = sink; // keeps the loop from being optimised away
    }
    return calls;
  }

  private static void awaitIndexed(Engram engine, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (engine.ingestStats().depth() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  private static float[] unit(SplittableRandom random) {
    float[] v = new float[DIMENSION];
    double norm = 0;
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (random.nextDouble() * 2 - 1);
      norm += v[i] * v[i];
    }
    float scale = (float) (1 / Math.sqrt(norm));
    for (int i = 0; i < v.length; i++) {
      v[i] *= scale;
    }
    return v;
  }

  /** The scratch stream's transport: answers go nowhere, every message is already delivered. */
  private static final SessionOutput DISCARD =
      new SessionOutput() {
        @Override
        public void send(SessionEvent event) {}

        @Override
        public void requestMore() {}

        @Override
        public void end(SessionEvent.Error error) {}
      };
}
