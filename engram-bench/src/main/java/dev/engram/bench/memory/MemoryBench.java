package dev.engram.bench.memory;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.RecallFilter;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceStats;
import dev.engram.core.storage.StorageConfig;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.HdrHistogram.Histogram;

/**
 * Heap and RSS per episode for docs/benchmarks.md ("Memory per episode"): fills an in-process
 * engine with {@code N} episodes (random unit vectors, ~120 bytes of content, two metadata
 * entries), waits until every one is indexed, forces full GCs and reports the used heap and the
 * process's resident set ({@code VmRSS}) against the same figures taken before the fill.
 *
 * <pre>
 * ./engram bench memory [--episodes N] [--dim D] [--index flat|hnsw] [--store disk|none]
 *                        [--recalls R] [--consolidation on|off]
 * </pre>
 *
 * <p>Consolidation is off by default: its association graph grows as the worker catches up (with a
 * flat index each of its neighbour searches scans everything), so the heap it holds at the moment
 * of measurement would depend on timing. After the figures, {@code R} recalls (k 10) per filter
 * give recall latency without a filter, with a selective metadata filter (1 % of the episodes) and
 * with one every episode passes: the cost of reading metadata back through the payload cache.
 *
 * <p>{@code --index flat} (the default) keeps indexing out of the way so that a million episodes
 * fill in minutes on a small machine; the HNSW graph's own bytes are {@code index} in the output
 * (run a smaller N with {@code --index hnsw} to see them). {@code --store disk} (the default) runs
 * with a data directory in a temporary folder, as the server does; {@code none} keeps everything in
 * memory.
 */
public final class MemoryBench {
  private static final SpaceId SPACE = SpaceId.of("memory");
  private static final int BATCH = 1000;

  private MemoryBench() {}

  public static void main(String[] args) throws Exception {
    int episodes = 100_000;
    int dim = 384;
    String index = "flat";
    String store = "disk";
    int recalls = 1000;
    boolean consolidation = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--episodes" -> episodes = Integer.parseInt(args[++i]);
        case "--dim" -> dim = Integer.parseInt(args[++i]);
        case "--index" -> index = args[++i];
        case "--store" -> store = args[++i];
        case "--recalls" -> recalls = Integer.parseInt(args[++i]);
        case "--consolidation" -> consolidation = args[++i].equals("on");
        default ->
            throw new IllegalArgumentException(
                "bench memory: unknown option '%s' (--episodes N --dim D --index flat|hnsw --store disk|none --recalls R --consolidation on|off)"
                    .formatted(args[i]));
      }
    }
    run(episodes, dim, index, store, recalls, consolidation);
  }

  private static void run(
      int n, int dim, String indexKind, String storeKind, int recalls, boolean consolidation)
      throws Exception {
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(Math.max(10_000, 4 * BATCH))
            .consolidation(
                consolidation ? ConsolidationConfig.defaults() : ConsolidationConfig.off())
            .indexFactory(
                s ->
                    indexKind.equals("hnsw")
                        ? new HnswIndex(s.dimension(), s.metric(), HnswParams.DEFAULTS)
                        : new FlatIndex(s.dimension(), s.metric()))
            .build();
    Path dir = storeKind.equals("disk") ? Files.createTempDirectory("engram-bench-memory") : null;
    long heap0 = usedHeapAfterGc();
    long rss0 = rssBytes();
    try (Engram engine =
        new Engram(
            config,
            dir == null ? null : StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1)))) {
      engine.createSpace(new SpaceConfig(SPACE, dim, Metric.COSINE));
      SplittableRandom random = new SplittableRandom(42);
      long start = System.nanoTime();
      for (int done = 0; done < n; done += BATCH) {
        List<Episode> batch = new ArrayList<>(BATCH);
        for (int i = done; i < Math.min(n, done + BATCH); i++) {
          batch.add(episode(random, dim, i));
        }
        while (true) {
          try {
            engine.remember(SPACE, batch);
            break;
          } catch (OverloadedException busy) {
            Thread.sleep(5); // the queue is full: wait for the index worker
          }
        }
      }
      while (stats(engine).fresh() > 0 || stats(engine).indexed() < n) {
        Thread.sleep(50);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long heap = usedHeapAfterGc() - heap0;
      long rss = rssBytes() - rss0;
      SpaceStats s = stats(engine);
      System.out.printf(
          "memory: %,d episodes x %d-d, index %s, store %s, filled in %.0f s%n",
          n, dim, indexKind, storeKind, seconds);
      System.out.printf(
          "heap  %,8.1f MiB  %,6.0f B/episode   (index %,.0f B/episode; vectors alone %d B)%n",
          heap / 1048576.0, heap / (double) n, s.indexMemoryBytes() / (double) n, 4 * dim);
      System.out.printf("rss   %,8.1f MiB  %,6.0f B/episode%n", rss / 1048576.0, rss / (double) n);
      System.out.printf(
          "projected heap at 10M x %d-d: %,.1f GiB%n", dim, heap / (double) n * 10e6 / (1L << 30));
      if (recalls > 0) {
        recall(engine, dim, recalls, "no filter", RecallFilter.NONE);
        recall(engine, dim, recalls, "topic=t5 (1%)", filter("topic", "t5"));
        recall(engine, dim, recalls, "source=bench (100%)", filter("source", "bench"));
      }
    } finally {
      if (dir != null) {
        deleteTree(dir);
      }
    }
  }

  private static RecallFilter filter(String key, String value) {
    return new RecallFilter(Map.of(key, value), null, null);
  }

  /** Recall latency (k 10, on the calling thread), after as many warm-up recalls. */
  private static void recall(Engram engine, int dim, int count, String what, RecallFilter filter) {
    SplittableRandom random = new SplittableRandom(7);
    Histogram micros = new Histogram(3);
    for (int i = 0; i < 2 * count; i++) {
      float[] cue = new float[dim];
      for (int d = 0; d < dim; d++) {
        cue[d] = (float) random.nextGaussian();
      }
      RecallQuery query =
          new RecallQuery(
              "r" + i, SPACE.value(), cue, "", 10, -1f, RecallMode.SIMILARITY, false, filter);
      long t0 = System.nanoTime();
      int found = engine.recall(SPACE, query).memories().size();
      if (i >= count) {
        micros.recordValue((System.nanoTime() - t0) / 1_000);
      }
      if (found != 10) {
        throw new IllegalStateException("recall returned " + found + " memories, not 10");
      }
    }
    System.out.printf(
        "recall k=10 %-20s p50 %,7d us  p99 %,7d us%n",
        what, micros.getValueAtPercentile(50), micros.getValueAtPercentile(99));
  }

  private static SpaceStats stats(Engram engine) {
    return engine.spaceStats().stream().filter(s -> s.id().equals(SPACE)).findFirst().orElseThrow();
  }

  private static Episode episode(SplittableRandom random, int dim, int i) {
    float[] v = new float[dim];
    for (int d = 0; d < dim; d++) {
      v[d] = (float) random.nextGaussian();
    }
    String content =
        "episode %d: the user asked about the quarterly report and the assistant answered %d"
            .formatted(i, random.nextInt(1_000_000));
    return new Episode(
        "ep-" + i,
        v,
        content,
        Instant.ofEpochSecond(1_700_000_000L + i),
        0.9f,
        Map.of("source", "bench", "topic", "t" + (i % 100)));
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(200);
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  private static long rssBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return 0;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
