package dev.engram.bench.text;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.storage.StorageConfig;
import dev.engram.core.text.TextIndex;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Text and hybrid recall figures for docs/benchmarks.md ("## Text and hybrid recall"), in process
 * (no network): recall latency of {@code HYBRID} (vector + BM25, fused) on a space of {@code n}
 * episodes with content, idle and while ingesting at half the measured sustainable rate; the text
 * index's unrefreshed tail and refresh times under that ingest; and the time recovery takes to
 * rebuild the text index.
 *
 * <pre>
 * ./engram bench text recall  [n=100000] [dim=64] [queries=3000]
 * ./engram bench text restart [n=100000] [dim=64]
 * </pre>
 *
 * <p>{@code restart} uses the exact (flat) index, so recovery time is the store scan plus the text
 * rebuild: run once without content and once with it, the difference is the text rebuild.
 *
 * <p>Content: sentences of 6–24 words drawn from a 5,000-word vocabulary with Zipf-like frequencies
 * (seeded); text cues: 2–4 words from the same distribution. Vectors: seeded random.
 */
public final class TextBench {
  private static final SpaceId SPACE = SpaceId.of("text-bench");
  private static final int VOCABULARY = 5000;

  private TextBench() {}

  public static void main(String[] args) throws Exception {
    String what = args.length > 0 ? args[0] : "recall";
    int n = arg(args, 1, 100_000);
    int dim = arg(args, 2, 64);
    switch (what) {
      case "recall" -> recall(n, dim, arg(args, 3, 3000));
      case "restart" -> restart(n, dim);
      default -> throw new IllegalArgumentException("recall | restart");
    }
  }

  private static int arg(String[] args, int i, int fallback) {
    return args.length > i ? Integer.parseInt(args[i]) : fallback;
  }

  // ---- data ----

  private static final String[] WORDS = words();

  private static String[] words() {
    SplittableRandom random = new SplittableRandom(3);
    String letters = "etaoinshrdlucmfwypvbgkjqxz";
    String[] words = new String[VOCABULARY];
    for (int i = 0; i < VOCABULARY; i++) {
      StringBuilder w = new StringBuilder();
      int len = 3 + random.nextInt(7);
      for (int c = 0; c < len; c++) {
        w.append(letters.charAt((int) Math.min(25, -Math.log(random.nextDouble()) * 6)));
      }
      words[i] = w.toString();
    }
    return words;
  }

  /** A word with a Zipf-like rank distribution (rank ~ 1/u). */
  private static String word(SplittableRandom random) {
    int rank =
        (int) Math.min(VOCABULARY - 1, Math.floor(Math.pow(VOCABULARY, random.nextDouble())));
    return WORDS[rank];
  }

  private static String sentence(SplittableRandom random, int min, int max) {
    int len = min + random.nextInt(max - min + 1);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < len; i++) {
      s.append(word(random)).append(' ');
    }
    return s.toString();
  }

  private static float[] vector(SplittableRandom random, int dim) {
    float[] v = new float[dim];
    for (int i = 0; i < dim; i++) {
      v[i] = (float) (random.nextDouble() * 2 - 1);
    }
    return v;
  }

  private static Episode episode(SplittableRandom random, int i, int dim, boolean content) {
    return new Episode(
        "e" + i,
        vector(random, dim),
        content ? sentence(random, 6, 24) : "",
        Instant.ofEpochSecond(1_700_000_000L + i),
        1f,
        Map.of("speaker", "s" + (i % 10)));
  }

  /** Remembers {@code episodes} in batches, waiting out backpressure. */
  private static void ingest(Engram engine, List<Episode> episodes) throws InterruptedException {
    for (int from = 0; from < episodes.size(); ) {
      int to = Math.min(episodes.size(), from + 500);
      try {
        engine.remember(SPACE, episodes.subList(from, to));
        from = to;
      } catch (OverloadedException e) {
        Thread.sleep(5);
      }
    }
  }

  private static void awaitIndexed(Engram engine, long n) throws InterruptedException {
    while (engine.getSpace(SPACE).indexedCount() < n) {
      Thread.sleep(10);
    }
  }

  private static EngramConfig config() {
    return EngramConfig.builder().queueCapacity(200_000).build();
  }

  // ---- recall ----

  private static void recall(int n, int dim, int queries) throws Exception {
    System.out.printf(
        "text recall: %,d episodes with content, %d-d vectors, HNSW, %d queries per phase, %d cores%n",
        n, dim, queries, Runtime.getRuntime().availableProcessors());
    SplittableRandom random = new SplittableRandom(42);
    List<Episode> all = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      all.add(episode(random, i, dim, true));
    }
    try (Engram engine = new Engram(config())) {
      engine.createSpace(new SpaceConfig(SPACE, dim, Metric.COSINE));
      MemorySpace space = spaceOf(engine);
      long t0 = System.nanoTime();
      ingest(engine, all);
      long accepted = System.nanoTime();
      awaitIndexed(engine, n);
      long indexed = System.nanoTime();
      double sustainable = n / ((indexed - t0) / 1e9);
      System.out.printf(
          "ingest: accepted in %.1f s, indexed in %.1f s: sustainable %.0f episodes/s; text"
              + " refreshes %d, longest %.0f ms, longest time in the tail %.0f ms%n",
          (accepted - t0) / 1e9,
          (indexed - t0) / 1e9,
          sustainable,
          space.textIndex().refreshes(),
          space.textIndex().maxRefreshNanos() / 1e6,
          space.textIndex().maxTailNanos() / 1e6);
      while (space.textTailSize() > 0) {
        Thread.sleep(5);
      }

      SplittableRandom cues = new SplittableRandom(7);
      phase("idle", engine, cues, dim, queries / 3, false); // warm-up
      for (RecallMode mode : List.of(RecallMode.SIMILARITY, RecallMode.HYBRID)) {
        phase("idle " + mode, engine, cues, dim, queries, mode == RecallMode.HYBRID);
      }
      phaseText("idle HYBRID text-only", engine, cues, queries);

      // While ingesting at half the sustainable rate.
      double rate = sustainable / 2;
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong ingested = new AtomicLong();
      Thread writer =
          Thread.ofPlatform()
              .name("bench-writer")
              .start(
                  () -> {
                    SplittableRandom r = new SplittableRandom(99);
                    long start = System.nanoTime();
                    int i = n;
                    while (!stop.get()) {
                      List<Episode> batch = new ArrayList<>(50);
                      for (int b = 0; b < 50; b++) {
                        batch.add(episode(r, i++, dim, true));
                      }
                      try {
                        ingest(engine, batch);
                      } catch (InterruptedException e) {
                        return;
                      }
                      long done = ingested.addAndGet(50);
                      long due = start + (long) (done / rate * 1e9);
                      long wait = due - System.nanoTime();
                      if (wait > 0) {
                        try {
                          Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                        } catch (InterruptedException e) {
                          return;
                        }
                      }
                    }
                  });
      TailSampler tail = new TailSampler(space.textIndex());
      tail.start();
      long refreshesBefore = space.textIndex().refreshes();
      space.textIndex().resetMaxima();
      long ingestStart = System.nanoTime();
      Thread.sleep(1000);
      phase("ingesting HYBRID", engine, cues, dim, queries, true);
      phase("ingesting SIMILARITY", engine, cues, dim, queries, false);
      phaseText("ingesting HYBRID text-only", engine, cues, queries);
      stop.set(true);
      writer.join();
      tail.stop();
      double seconds = (System.nanoTime() - ingestStart) / 1e9;
      long refreshes = space.textIndex().refreshes() - refreshesBefore;
      System.out.printf(
          "ingest during recall: %.0f episodes/s (target %.0f); %d text refreshes (%.1f/s, mean"
              + " %.1f episodes each); text tail: p50 %d, p99 %d, max %d episodes; time in the"
              + " tail (add to refreshed): max %.1f ms; refresh time: max %.1f ms%n",
          ingested.get() / seconds,
          rate,
          refreshes,
          refreshes / seconds,
          ingested.get() / (double) Math.max(1, refreshes),
          tail.sizes.getValueAtPercentile(50),
          tail.sizes.getValueAtPercentile(99),
          tail.sizes.getMaxValue(),
          space.textIndex().maxTailNanos() / 1e6,
          space.textIndex().maxRefreshNanos() / 1e6);
    }
  }

  private static MemorySpace spaceOf(Engram engine) {
    return engine.space(SPACE);
  }

  private static void phase(
      String name, Engram engine, SplittableRandom cues, int dim, int queries, boolean hybrid) {
    Histogram h = new Histogram(3);
    for (int q = 0; q < queries; q++) {
      float[] v = vector(cues, dim);
      String text = hybrid ? sentence(cues, 2, 4) : "";
      RecallQuery query =
          new RecallQuery(
              "q", "", v, text, 10, 0, hybrid ? RecallMode.HYBRID : RecallMode.SIMILARITY);
      long s = System.nanoTime();
      engine.recall(SPACE, query);
      h.recordValue((System.nanoTime() - s) / 1000);
    }
    print(name, h);
  }

  private static void phaseText(String name, Engram engine, SplittableRandom cues, int queries) {
    Histogram h = new Histogram(3);
    for (int q = 0; q < queries; q++) {
      RecallQuery query =
          new RecallQuery("q", "", new float[0], sentence(cues, 2, 4), 10, 0, RecallMode.HYBRID);
      long s = System.nanoTime();
      engine.recall(SPACE, query);
      h.recordValue((System.nanoTime() - s) / 1000);
    }
    print(name, h);
  }

  private static void print(String name, Histogram h) {
    System.out.printf(
        "  %-28s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (%d recalls)%n",
        name,
        h.getValueAtPercentile(50) / 1000.0,
        h.getValueAtPercentile(99) / 1000.0,
        h.getMaxValue() / 1000.0,
        h.getTotalCount());
  }

  /** Samples the text tail's size every millisecond. */
  private static final class TailSampler {
    final Histogram sizes = new Histogram(3);
    private final TextIndex index;
    private final AtomicBoolean stop = new AtomicBoolean();
    private Thread thread;

    TailSampler(TextIndex index) {
      this.index = index;
    }

    void start() {
      thread =
          Thread.ofPlatform()
              .daemon()
              .start(
                  () -> {
                    while (!stop.get()) {
                      sizes.recordValue(index.tailSize());
                      try {
                        Thread.sleep(1);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  });
    }

    void stop() throws InterruptedException {
      stop.set(true);
      thread.join();
    }
  }

  // ---- restart ----

  private static void restart(int n, int dim) throws Exception {
    System.out.printf("text restart: %,d episodes, %d-d vectors%n", n, dim);
    for (boolean content : new boolean[] {false, true}) {
      Path dir = Files.createTempDirectory("engram-bench-text");
      SplittableRandom random = new SplittableRandom(42);
      List<Episode> all = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        all.add(episode(random, i, dim, content));
      }
      StorageConfig storage = StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1));
      EngramConfig flat =
          EngramConfig.builder()
              .queueCapacity(200_000)
              .indexFactory(s -> new FlatIndex(s.dimension(), s.metric()))
              .build();
      try (Engram engine = new Engram(flat, storage)) {
        engine.createSpace(new SpaceConfig(SPACE, dim, Metric.COSINE));
        ingest(engine, all);
        awaitIndexed(engine, n);
      }
      long start = System.nanoTime();
      try (Engram engine = new Engram(flat, storage)) {
        long millis = (System.nanoTime() - start) / 1_000_000;
        System.out.printf(
            "  content %-5s: recovery %,d ms (%s)%n", content, millis, engine.recovered());
      }
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
