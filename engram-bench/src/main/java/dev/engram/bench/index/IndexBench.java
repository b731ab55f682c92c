package dev.engram.bench.index;

import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.index.SearchHit;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.HdrHistogram.Histogram;

/**
 * Index benchmark: our HNSW vs jvector vs exact scan on the PEERS.md clustered recipe. Prints
 * figures, asserts nothing.
 *
 * <p>{@code --index all} computes the exact ground truth once (cached under {@code --cache}) and
 * re-launches this main once per index in a fresh JVM with the same flags, so jvector (which turns
 * off Vector API bounds checks JVM-wide) never shares a JVM with our index; then prints one
 * Markdown table. {@code --index hnsw|jvector|exact} runs one index and prints one {@code RESULT}
 * line.
 *
 * <p>{@code --hnswlib-python PATH} adds hnswlib (run by {@code scripts/hnswlib_bench.py} with that
 * Python, on the same vectors written as fvecs under the cache) after jvector; {@code --index
 * hnsw,hnswlib} runs just those, one after another; {@code --rounds N} repeats the sequence N times
 * (alternated) and prints every row; {@code --write-vecs DIR} only writes the fvecs.
 *
 * <p>Options: {@code --dim 384 --n 100000 --queries 1000 --warmup 3000 --m 16 --efc 100 --seed 42
 * --cache target/bench-cache}.
 */
public final class IndexBench {
  private static final int K = 10;
  private static final int[] EFS = {64, 128};

  private IndexBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = parse(args);
    String which = opts.getOrDefault("index", "all");
    int dim = Integer.parseInt(opts.getOrDefault("dim", "384"));
    int n = Integer.parseInt(opts.getOrDefault("n", "100000"));
    int queries = Integer.parseInt(opts.getOrDefault("queries", "1000"));
    long seed = Long.parseLong(opts.getOrDefault("seed", "42"));
    Path cache = Path.of(opts.getOrDefault("cache", "target/bench-cache"));
    Path truthFile = cache.resolve("truth-" + dim + "-" + n + "-" + queries + "-" + seed + ".bin");
    int warmup = Integer.parseInt(opts.getOrDefault("warmup", "3000"));
    int m = Integer.parseInt(opts.getOrDefault("m", "16"));
    int efc = Integer.parseInt(opts.getOrDefault("efc", "100"));
    String python = opts.get("hnswlib-python");
    if (which.equals("all") || which.contains(",")) {
      ensureTruth(truthFile, dim, n, queries, seed);
      List<String> indexes = new ArrayList<>();
      if (which.equals("all")) {
        indexes.addAll(List.of("hnsw", "jvector"));
        if (python != null) {
          indexes.add("hnswlib");
        }
        indexes.add("exact");
      } else {
        indexes.addAll(List.of(which.split(",")));
      }
      int rounds = Integer.parseInt(opts.getOrDefault("rounds", "1"));
      Path vecs = null;
      if (indexes.contains("hnswlib")) {
        if (python == null) {
          throw new IllegalArgumentException("--index hnswlib needs --hnswlib-python PATH");
        }
        vecs = cache.resolve("vecs-" + dim + "-" + n + "-" + queries + "-" + warmup + "-" + seed);
        writeVecs(vecs, new Workload(dim, n, queries, seed, readTruth(truthFile)), warmup);
      }
      List<String> rows = new ArrayList<>();
      for (int round = 1; round <= rounds; round++) {
        for (String index : indexes) {
          if (rounds > 1) {
            System.out.printf("round %d of %d: %s%n", round, rounds, index);
          }
          rows.add(
              index.equals("hnswlib")
                  ? runHnswlib(python, vecs, m, efc)
                  : runChild(index.strip(), args));
        }
      }
      printTable(dim, n, rows);
      return;
    }
    ensureTruth(truthFile, dim, n, queries, seed);
    Workload w = new Workload(dim, n, queries, seed, readTruth(truthFile));
    if (opts.containsKey("write-vecs")) {
      writeVecs(Path.of(opts.get("write-vecs")), w, warmup);
      return;
    }
    Candidate candidate =
        switch (which) {
          case "hnsw" -> new OurHnsw(dim, m, efc);
          case "jvector" -> JvectorCandidate.create(dim, m, efc);
          case "exact" -> new Exact(dim);
          default -> throw new IllegalArgumentException("unknown --index " + which);
        };
    System.out.println(measure(candidate, w, warmup));
  }

  /** One index under test. Builds are fresh each time. */
  interface Candidate {
    String name();

    /** Builds over all data with {@code threads} threads; returns nothing, keeps the index. */
    void build(float[][] data, int threads) throws Exception;

    boolean approximate();

    /** Top-k ordinals at search width {@code ef}. */
    int[] search(float[] query, int k, int ef);
  }

  record Workload(int dim, int n, int queries, long seed, int[][] truth) {
    float[][] data() {
      return new ClusteredVectors(dim, 1000, seed).take(n);
    }

    float[][] queryVectors(int count) {
      return new ClusteredVectors(dim, 1000, seed).queries(count);
    }
  }

  private static String measure(Candidate c, Workload w, int warmup) throws Exception {
    float[][] data = w.data();
    float[][] allQueries = w.queryVectors(w.queries() + warmup);
    float[][] queries = java.util.Arrays.copyOf(allQueries, w.queries());
    StringBuilder row = new StringBuilder("RESULT|" + c.name() + "|" + w.dim() + "|" + w.n());
    if (c.approximate()) {
      for (int threads : new int[] {1, 2}) {
        gc();
        long start = System.nanoTime();
        long cpuStart = processCpuNanos();
        c.build(data, threads);
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpu = (processCpuNanos() - cpuStart) / 1e9;
        row.append(String.format("|%.0f", w.n() / seconds));
        System.err.printf(
            "%s build %d thread(s): %.1f s, process CPU %.1f s (%.0f vec per CPU-second)%n",
            c.name(), threads, seconds, cpu, w.n() / cpu);
      }
    } else {
      c.build(data, 1);
      row.append("|—|—");
    }
    data = null;
    gc();
    long heap = usedHeap();
    for (int i = w.queries(); i < allQueries.length; i++) {
      c.search(allQueries[i], K, EFS[0]);
    }
    int[] efs = c.approximate() ? EFS : new int[] {0};
    for (int ef : efs) {
      int count = c.approximate() ? queries.length : Math.min(queries.length, 200);
      Histogram histogram = new Histogram(3);
      int[][] found = new int[count][];
      long cpuStart = processCpuNanos();
      for (int q = 0; q < count; q++) {
        long t0 = System.nanoTime();
        found[q] = c.search(queries[q], K, ef);
        histogram.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
      }
      System.err.printf(
          "%s ef %d: process CPU %.0f us per query%n",
          c.name(), ef, (processCpuNanos() - cpuStart) / 1e3 / count);
      double recall = ClusteredVectors.recall(java.util.Arrays.copyOf(w.truth(), count), found, K);
      row.append(
          String.format(
              "|%d|%d|%d|%.3f",
              ef, histogram.getValueAtPercentile(50), histogram.getValueAtPercentile(99), recall));
    }
    row.append(String.format("|%.0f", heap / 1048576.0));
    row.append("|").append(VectorMath.implementation());
    return row.toString();
  }

  /**
   * CPU time of the whole process (every thread: builders, JIT, GC), which other processes on a
   * shared machine do not inflate the way they inflate wall-clock time.
   */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static void gc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
  }

  private static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }

  // ------------------------------------------------------------------------- candidates

  static final class OurHnsw implements Candidate {
    private final int dim;
    private final HnswParams params;
    private HnswIndex index;

    OurHnsw(int dim, int m, int efc) {
      this.dim = dim;
      this.params = new HnswParams(m, efc, 64);
    }

    @Override
    public String name() {
      return "engram HNSW";
    }

    @Override
    public boolean approximate() {
      return true;
    }

    @Override
    public void build(float[][] data, int threads) throws Exception {
      index = null;
      HnswIndex fresh = new HnswIndex(dim, Metric.DOT, params);
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<?>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int first = t;
          tasks.add(
              pool.submit(
                  () -> {
                    for (int i = first; i < data.length; i += threads) {
                      fresh.add(i, data[i]);
                    }
                  }));
        }
        for (Future<?> task : tasks) {
          task.get();
        }
      } finally {
        pool.shutdown();
      }
      index = fresh;
      long degree = 0;
      for (int i = 0; i < data.length; i++) {
        degree += fresh.neighbours(i).length;
      }
      System.err.printf(
          "engram HNSW average layer-0 degree: %.1f%n", degree / (double) data.length);
    }

    @Override
    public int[] search(float[] query, int k, int ef) {
      List<SearchHit> hits = index.search(query, k, ef, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      return hits.stream().mapToInt(SearchHit::ordinal).toArray();
    }
  }

  static final class Exact implements Candidate {
    private final FlatIndex index;

    Exact(int dim) {
      index = new FlatIndex(dim, Metric.DOT);
    }

    @Override
    public String name() {
      return "exact scan (FlatIndex)";
    }

    @Override
    public boolean approximate() {
      return false;
    }

    @Override
    public void build(float[][] data, int threads) {
      for (int i = 0; i < data.length; i++) {
        index.add(i, data[i]);
      }
    }

    @Override
    public int[] search(float[] query, int k, int ef) {
      return index.search(query, k, 0, Float.NEGATIVE_INFINITY, VectorIndex.ALL).stream()
          .mapToInt(SearchHit::ordinal)
          .toArray();
    }
  }

  // ------------------------------------------------------------------------- driver

  private static void ensureTruth(Path file, int dim, int n, int queries, long seed)
      throws IOException {
    if (Files.exists(file)) {
      return;
    }
    Files.createDirectories(file.getParent());
    System.err.printf(
        "computing exact top-%d for %d queries over %d x %d ...%n", 100, queries, n, dim);
    ClusteredVectors generator = new ClusteredVectors(dim, 1000, seed);
    int[][] truth =
        ClusteredVectors.exactTopK(generator.take(n), generator.queries(queries), 100, Metric.DOT);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (DataOutputStream out =
        new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(tmp)))) {
      out.writeInt(truth.length);
      for (int[] row : truth) {
        out.writeInt(row.length);
        for (int id : row) {
          out.writeInt(id);
        }
      }
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private static int[][] readTruth(Path file) throws IOException {
    try (DataInputStream in =
        new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
      int[][] truth = new int[in.readInt()][];
      for (int q = 0; q < truth.length; q++) {
        truth[q] = new int[in.readInt()];
        for (int i = 0; i < truth[q].length; i++) {
          truth[q][i] = in.readInt();
        }
      }
      return truth;
    }
  }

  /**
   * Writes the workload as {@code base.fvecs} (the data), {@code query.fvecs} (the measured queries
   * followed by the warm-up queries) and {@code groundtruth.ivecs} (exact top-100 of each measured
   * query) in the TEXMEX layout (per row: little-endian int32 dimension, then the values), for
   * benchmarks outside the JVM. Skipped if the directory already holds all three.
   */
  static void writeVecs(Path dir, Workload w, int warmup) throws IOException {
    Path base = dir.resolve("base.fvecs");
    Path query = dir.resolve("query.fvecs");
    Path truth = dir.resolve("groundtruth.ivecs");
    if (Files.exists(base) && Files.exists(query) && Files.exists(truth)) {
      return;
    }
    Files.createDirectories(dir);
    writeRows(query, w.queryVectors(w.queries() + warmup));
    writeRows(truth, w.truth());
    Path partial = dir.resolve("base.fvecs.tmp");
    writeRows(partial, w.data());
    Files.move(partial, base, java.nio.file.StandardCopyOption.REPLACE_EXISTING); // marks complete
  }

  private static void writeRows(Path file, float[][] rows) throws IOException {
    try (DataOutputStream out = openRows(file)) {
      for (float[] row : rows) {
        out.writeInt(Integer.reverseBytes(row.length));
        for (float value : row) {
          out.writeInt(Integer.reverseBytes(Float.floatToRawIntBits(value)));
        }
      }
    }
  }

  private static void writeRows(Path file, int[][] rows) throws IOException {
    try (DataOutputStream out = openRows(file)) {
      for (int[] row : rows) {
        out.writeInt(Integer.reverseBytes(row.length));
        for (int value : row) {
          out.writeInt(Integer.reverseBytes(value));
        }
      }
    }
  }

  private static DataOutputStream openRows(Path file) throws IOException {
    return new DataOutputStream(
        new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
  }

  /**
   * Runs {@code hnswlib_bench.py} (see {@link #findScript}) with the given Python on the vectors in
   * {@code dir}; returns its {@code RESULT} line.
   */
  private static String runHnswlib(String python, Path dir, int m, int efc) throws Exception {
    Path script = findScript();
    List<String> command =
        List.of(
            python,
            script.toString(),
            "--dir",
            dir.toString(),
            "--m",
            Integer.toString(m),
            "--efc",
            Integer.toString(efc),
            "--k",
            Integer.toString(K));
    return collect("hnswlib", command);
  }

  /** {@code scripts/hnswlib_bench.py} of this module: searched upwards from this class's jar. */
  private static Path findScript() throws Exception {
    Path here =
        Path.of(IndexBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    for (Path dir = here; dir != null; dir = dir.getParent()) {
      for (Path candidate :
          List.of(
              dir.resolve("scripts/hnswlib_bench.py"),
              dir.resolve("engram-bench/scripts/hnswlib_bench.py"))) {
        if (Files.exists(candidate)) {
          return candidate;
        }
      }
    }
    throw new IllegalStateException(
        "engram-bench/scripts/hnswlib_bench.py not found above " + here);
  }

  private static String runChild(String index, String[] args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(IndexBench.class.getName());
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--index")) {
        i++; // and its value
      } else if (!args[i].startsWith("--index=")) {
        command.add(args[i]);
      }
    }
    command.add("--index=" + index);
    return collect(index, command);
  }

  private static String collect(String index, List<String> command) throws Exception {
    Process process =
        new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String result = null;
    try (BufferedReader reader =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = reader.readLine()) != null; ) {
        System.out.println("  [" + index + "] " + line);
        if (line.startsWith("RESULT|")) {
          result = line;
        }
      }
    }
    int exit = process.waitFor();
    if (exit != 0 || result == null) {
      throw new IllegalStateException(index + " run failed with exit code " + exit);
    }
    return result;
  }

  private static void printTable(int dim, int n, List<String> rows) {
    System.out.printf(
        "%n%,d x %d-d clustered unit vectors, k=%d, single-threaded queries%n%n", n, dim, K);
    System.out.println(
        "| index | dim | build vec/s, 1 thread | 2 threads | p50 / p99 µs at ef=64 | p50 / p99 µs at ef=128 | recall@10 at ef 64 / 128 | heap MiB | kernels |");
    System.out.println("|---|---|---|---|---|---|---|---|---|");
    for (String row : rows) {
      String[] f = row.split("\\|");
      if (f.length >= 16) {
        System.out.printf(
            "| %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s |%n",
            f[1], f[2], f[4], f[5], f[7], f[8], f[11], f[12], f[9], f[13], f[14], f[15]);
      } else {
        System.out.printf(
            "| %s | %s | — | — | %s / %s (whole scan) | — | %s | %s | %s |%n",
            f[1], f[2], f[7], f[8], f[9], f[10], f[11]);
      }
    }
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) {
        throw new IllegalArgumentException("unexpected argument " + arg);
      }
      int eq = arg.indexOf('=');
      if (eq > 0) {
        opts.put(arg.substring(2, eq), arg.substring(eq + 1));
      } else if (i + 1 < args.length) {
        opts.put(arg.substring(2), args[++i]);
      } else {
        throw new IllegalArgumentException("missing value for " + arg);
      }
    }
    return opts;
  }

  static UncheckedIOException unchecked(IOException e) {
    return new UncheckedIOException(e);
  }
}
