package dev.engram.bench.durability;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.core.session.StreamConnection;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Durability figures for docs/benchmarks.md ("## Durability"): accept throughput and ack latency
 * per fsync mode, restart time with and without a graph snapshot, disk bytes per episode.
 *
 * <pre>
 * java ... dev.engram.bench.durability.DurabilityBench accept [sessions] [batch] [seconds]
 * java ... dev.engram.bench.durability.DurabilityBench restart [episodes] [dimension]
 * </pre>
 *
 * <p>The accept figures measure the engine in process (no network): the time from handing a stream
 * message to the session until its ack is emitted, which includes the durable write. A flat index
 * keeps indexing out of the way.
 */
public final class DurabilityBench {
  private static final SpaceId SPACE = SpaceId.of("bench");

  private DurabilityBench() {}

  public static void main(String[] args) throws Exception {
    String what = args.length > 0 ? args[0] : "accept";
    switch (what) {
      case "accept" -> accept(arg(args, 1, 4), arg(args, 2, 20), arg(args, 3, 10));
      case "restart" -> restart(arg(args, 1, 100_000), arg(args, 2, 384));
      default -> throw new IllegalArgumentException("accept | restart");
    }
  }

  private static int arg(String[] args, int i, int fallback) {
    return args.length > i ? Integer.parseInt(args[i]) : fallback;
  }

  // ---- accept ----

  private static void accept(int sessions, int batch, int seconds) throws Exception {
    System.out.printf(
        "accept: %d sessions, %d episodes per message, 384-d, %d s per mode%n",
        sessions, batch, seconds);
    for (FsyncPolicy policy : FsyncPolicy.values()) {
      Path dir = Files.createTempDirectory("engram-bench-accept");
      EngramConfig config =
          EngramConfig.builder()
              .queueCapacity(2_000_000)
              .workers(1)
              .indexFactory(s -> new FlatIndex(s.dimension(), s.metric()))
              .build();
      Recorder latency = new Recorder(3);
      long[] accepted = new long[sessions];
      try (Engram engine = new Engram(config, StorageConfig.of(dir).withFsync(policy))) {
        engine.createSpace(new SpaceConfig(SPACE, 384, Metric.COSINE));
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        CountDownLatch done = new CountDownLatch(sessions);
        for (int s = 0; s < sessions; s++) {
          int slot = s;
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      StreamConnection stream = engine.connect(new Sink());
                      stream.onInit(SPACE.value(), "");
                      SplittableRandom random = new SplittableRandom(slot);
                      long seq = 1;
                      while (System.nanoTime() < end) {
                        List<Episode> episodes = new ArrayList<>(batch);
                        for (int i = 0; i < batch; i++) {
                          episodes.add(episode(random, 384, "s" + slot + "-" + (seq + i)));
                        }
                        long t0 = System.nanoTime();
                        stream.onObservations("", seq, episodes);
                        latency.recordValue((System.nanoTime() - t0) / 1_000);
                        seq += batch;
                      }
                      accepted[slot] = seq - 1;
                    } finally {
                      done.countDown();
                    }
                  });
        }
        done.await();
        long total = 0;
        for (long a : accepted) {
          total += a;
        }
        Histogram h = latency.getIntervalHistogram();
        long disk = engine.store().diskBytes();
        System.out.printf(
            "fsync=%-8s %,10.0f episodes/s   ack p50 %,6d us  p99 %,6d us  (%,d messages)  disk"
                + " %,.0f B/episode%n",
            policy.name().toLowerCase(),
            total / (double) seconds,
            h.getValueAtPercentile(50),
            h.getValueAtPercentile(99),
            h.getTotalCount(),
            disk / (double) total);
      }
      deleteTree(dir);
    }
  }

  // ---- restart ----

  private static void restart(int n, int dimension) throws Exception {
    Path dir = Files.createTempDirectory("engram-bench-restart");
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(Math.max(10_000, n + 10))
            .workers(Runtime.getRuntime().availableProcessors())
            .indexFactory(s -> new HnswIndex(s.dimension(), s.metric(), HnswParams.DEFAULTS))
            .build();
    StorageConfig storage =
        StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER).withSnapshotInterval(Duration.ofDays(1));
    long t0 = System.nanoTime();
    try (Engram engine = new Engram(config, storage)) {
      engine.createSpace(new SpaceConfig(SPACE, dimension, Metric.COSINE));
      SplittableRandom random = new SplittableRandom(7);
      for (int from = 0; from < n; from += 1_000) {
        List<Episode> episodes = new ArrayList<>();
        for (int i = from; i < Math.min(n, from + 1_000); i++) {
          episodes.add(episode(random, dimension, "e" + i));
        }
        while (true) {
          try {
            engine.remember(SPACE, episodes);
            break;
          } catch (dev.engram.core.model.OverloadedException e) {
            Thread.sleep(10);
          }
        }
      }
      while (engine.getSpace(SPACE).indexedCount() < n) {
        Thread.sleep(50);
      }
      System.out.printf(
          "generated %,d x %d-d episodes (HNSW) in %.1f s%n",
          n, dimension, (System.nanoTime() - t0) / 1e9);
    }
    long disk = sizeOf(dir.resolve("rocksdb"));
    long graph = sizeOf(dir.resolve("graphs"));
    System.out.printf(
        "disk: store %,d B (%,.0f B/episode), graph snapshot %,d B (%,.0f B/episode)%n",
        disk, disk / (double) n, graph, graph / (double) n);
    for (int run = 0; run < 2; run++) {
      long start = System.nanoTime();
      try (Engram engine = new Engram(config, storage)) {
        double s = (System.nanoTime() - start) / 1e9;
        System.out.printf("restart with snapshot: ready in %.2f s (%s)%n", s, engine.recovered());
      }
    }
    deleteTree(dir.resolve("graphs"));
    long start = System.nanoTime();
    try (Engram engine = new Engram(config, storage)) {
      double s = (System.nanoTime() - start) / 1e9;
      System.out.printf("restart without snapshot: ready in %.2f s (%s)%n", s, engine.recovered());
    }
    deleteTree(dir);
  }

  private static Episode episode(SplittableRandom random, int dimension, String id) {
    float[] v = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      v[i] = (float) (random.nextDouble() * 2 - 1);
    }
    return new Episode(id, v, "episode " + id, Instant.now(), 1f, Map.of());
  }

  private static long sizeOf(Path p) throws IOException {
    if (!Files.exists(p)) {
      return 0;
    }
    try (var files = Files.walk(p)) {
      return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var files = Files.walk(p)) {
      for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  /** Discards what a session sends. */
  private static final class Sink implements SessionOutput {
    @Override
    public void send(SessionEvent event) {}

    @Override
    public void requestMore() {}

    @Override
    public void end(SessionEvent.Error error) {}
  }
}
