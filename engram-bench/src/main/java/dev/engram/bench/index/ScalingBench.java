package dev.engram.bench.index;

import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * How the index scales with cores: for each thread count, a fresh build over the same data (vectors
 * per second, and recall@10 of the result at ef 64, so a fast concurrent build that damages the
 * graph shows), then (Engram's index only) search throughput with that many threads querying the
 * last graph at once. Prints one line per thread count and a Markdown table; asserts nothing.
 *
 * <p>Options: {@code --index hnsw|jvector --dim 384 --n 100000 --queries 1000 --threads 1,2,4,8,16
 * --m 16 --efc 100 --seed 42 --search-seconds 5 --warmup-build 20000}. Run each index in its own
 * JVM (jvector turns off Vector API bounds checks JVM-wide).
 */
public final class ScalingBench {
  private static final int K = 10;
  private static final int EF = 64;

  private ScalingBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = IndexBench.parse(args);
    String which = opts.getOrDefault("index", "hnsw");
    int dim = intOption(opts, "dim", 384);
    int n = intOption(opts, "n", 100_000);
    int queries = intOption(opts, "queries", 1000);
    long seed = intOption(opts, "seed", 42);
    int m = intOption(opts, "m", 16);
    int efc = intOption(opts, "efc", 100);
    double searchSeconds = intOption(opts, "search-seconds", 5);
    int[] threadCounts =
        Arrays.stream(opts.getOrDefault("threads", "1,2,4,8,16").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();

    ClusteredVectors generator = new ClusteredVectors(dim, 1000, seed);
    float[][] data = generator.take(n);
    float[][] queryVectors = new ClusteredVectors(dim, 1000, seed).queries(queries);
    long t0 = System.nanoTime();
    int[][] truth = ClusteredVectors.exactTopK(data, queryVectors, K, Metric.DOT);
    System.err.printf("ground truth: %.1f s%n", (System.nanoTime() - t0) / 1e9);

    IndexBench.Candidate candidate =
        switch (which) {
          case "hnsw" -> new IndexBench.OurHnsw(dim, m, efc);
          case "jvector" -> JvectorCandidate.create(dim, m, efc);
          default -> throw new IllegalArgumentException("unknown --index " + which);
        };
    System.out.printf(
        "%s, %,d x %d-d, M=%d efc=%d, %d cores, kernels %s%n",
        candidate.name(),
        n,
        dim,
        m,
        efc,
        Runtime.getRuntime().availableProcessors(),
        VectorMath.implementation());
    // JIT warm-up: a throw-away build and searches, so the first measured row runs compiled code.
    int warmupN = Math.min(n, intOption(opts, "warmup-build", 20_000));
    candidate.build(Arrays.copyOf(data, warmupN), threadCounts[threadCounts.length - 1]);
    for (int i = 0; i < 5000; i++) {
      candidate.search(queryVectors[i % queries], K, EF);
    }
    List<String> rows = new ArrayList<>();
    double oneThreadBuild = 0;
    for (int threads : threadCounts) {
      System.gc();
      long start = System.nanoTime();
      candidate.build(data, threads);
      double rate = n / ((System.nanoTime() - start) / 1e9);
      if (oneThreadBuild == 0) {
        oneThreadBuild = rate;
      }
      int[][] found = new int[queries][];
      for (int q = 0; q < queries; q++) {
        found[q] = candidate.search(queryVectors[q], K, EF);
      }
      double recall = ClusteredVectors.recall(truth, found, K);
      String line =
          "| %d | %,.0f | %.1f× | %.3f |".formatted(threads, rate, rate / oneThreadBuild, recall);
      System.out.println("BUILD" + line);
      rows.add(line);
    }
    System.out.println();
    System.out.println("| threads | build vec/s | speed-up | recall@10, ef 64 |");
    System.out.println("|---|---|---|---|");
    rows.forEach(System.out::println);

    if (candidate instanceof IndexBench.OurHnsw) {
      System.out.println();
      System.out.println("| threads | queries/s, ef 64 | speed-up |");
      System.out.println("|---|---|---|");
      for (int i = 0; i < 2000; i++) {
        candidate.search(queryVectors[i % queries], K, EF); // warm-up
      }
      double oneThreadQps = 0;
      for (int threads : threadCounts) {
        double qps = searchThroughput(candidate, queryVectors, threads, searchSeconds);
        if (oneThreadQps == 0) {
          oneThreadQps = qps;
        }
        System.out.printf("| %d | %,.0f | %.1f× |%n", threads, qps, qps / oneThreadQps);
      }
    }
  }

  /** Queries per second with {@code threads} threads searching one graph for about {@code s}. */
  private static double searchThroughput(
      IndexBench.Candidate candidate, float[][] queries, int threads, double seconds)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      long deadline = System.nanoTime() + (long) (seconds * 1e9);
      long start = System.nanoTime();
      List<Future<Long>> counts = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        counts.add(
            pool.submit(
                () -> {
                  long done = 0;
                  for (int q = first; System.nanoTime() < deadline; q++) {
                    candidate.search(queries[q % queries.length], K, EF);
                    done++;
                  }
                  return done;
                }));
      }
      long total = 0;
      for (Future<Long> count : counts) {
        total += count.get();
      }
      return total / ((System.nanoTime() - start) / 1e9);
    } finally {
      pool.shutdown();
    }
  }

  private static int intOption(Map<String, String> opts, String name, int fallback) {
    String v = opts.get(name);
    return v == null ? fallback : Integer.parseInt(v);
  }
}
