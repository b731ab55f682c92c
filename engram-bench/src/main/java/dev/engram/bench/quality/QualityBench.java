package dev.engram.bench.quality;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.protobuf.Timestamp;
import dev.engram.core.EngramConfig;
import dev.engram.core.embed.Embedders;
import dev.engram.core.recall.RecallTuning;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.server.EngramServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code ./engram bench quality}: memory quality on conversations with questions whose evidence is
 * known. Each conversation goes into its own space, created with the server-side embedder, on an
 * in-process server reached over loopback gRPC; its turns are sent as text only (the server embeds
 * and indexes them); each question is then asked in every recall mode the protocol has, and the
 * ranks of its evidence turns give hit@5/10/20 and MRR, per mode and per category, with the recall
 * latency. Input format: docs/benchmarks.md ("Memory quality").
 *
 * <p>Cues carry the question's text and its vector, embedded here with the same model: the server
 * uses the vector as given (so the latency is the recall's, not the model's) and the text for modes
 * that read text.
 */
public final class QualityBench {
  static final int[] CUTOFFS = {5, 10, 20};
  static final String EMBEDDER = "all-minilm-l6-v2";
  private static final int WARMUP = 20; // unmeasured recalls per space and mode, for the JIT
  private static final ObjectMapper JSON = new ObjectMapper();

  private QualityBench() {}

  record Turn(String id, String content, String observedAt, Map<String, String> metadata) {}

  record Question(String id, String text, List<String> evidence, String category) {}

  record Conversation(String space, List<Turn> turns, List<Question> questions) {}

  /** Ranks of first evidence hits and latencies, for one mode (or one mode and category). */
  static final class Tally {
    int questions;
    final int[] hits = new int[CUTOFFS.length];
    double reciprocalRanks;
    final List<Long> latencyNanos = new ArrayList<>();
    final List<Long> serverMicros = new ArrayList<>();

    void add(int rank, long nanos, long micros) {
      questions++;
      for (int i = 0; i < CUTOFFS.length; i++) {
        if (rank > 0 && rank <= CUTOFFS[i]) {
          hits[i]++;
        }
      }
      reciprocalRanks += rank > 0 ? 1.0 / rank : 0;
      latencyNanos.add(nanos);
      serverMicros.add(micros);
    }

    double hitAt(int i) {
      return questions == 0 ? 0 : hits[i] / (double) questions;
    }

    double mrr() {
      return questions == 0 ? 0 : reciprocalRanks / questions;
    }

    static double percentileMillis(List<Long> values, double p, double unitToMillis) {
      if (values.isEmpty()) {
        return 0;
      }
      long[] sorted = values.stream().mapToLong(Long::longValue).sorted().toArray();
      int index = (int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
      return sorted[Math.max(0, index)] * unitToMillis;
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("questions", questions);
      for (int i = 0; i < CUTOFFS.length; i++) {
        m.put("hit@" + CUTOFFS[i], round(hitAt(i)));
      }
      m.put("mrr", round(mrr()));
      m.put("latency_p50_ms", round(percentileMillis(latencyNanos, 0.50, 1e-6)));
      m.put("latency_p99_ms", round(percentileMillis(latencyNanos, 0.99, 1e-6)));
      m.put("server_p50_ms", round(percentileMillis(serverMicros, 0.50, 1e-3)));
      m.put("server_p99_ms", round(percentileMillis(serverMicros, 0.99, 1e-3)));
      return m;
    }
  }

  public static void main(String[] args) throws Exception {
    System.exit(run(args));
  }

  /** Runs the benchmark; returns the exit status. */
  public static int run(String[] args) throws Exception {
    Path data = null;
    Path out = null;
    Path cache = null;
    Path details = null;
    List<RecallMode> modes = allModes();
    List<RecallTuning> variants = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--data" -> data = Path.of(value(args, ++i, "--data"));
        case "--out" -> out = Path.of(value(args, ++i, "--out"));
        case "--mode" -> modes = parseModes(value(args, ++i, "--mode"));
        case "--embed-cache" -> cache = Path.of(value(args, ++i, "--embed-cache"));
        case "--details" -> details = Path.of(value(args, ++i, "--details"));
        case "--recall" -> variants.add(RecallTuning.defaults().with(value(args, ++i, "--recall")));
        case "-h", "--help" -> {
          usage();
          return 0;
        }
        default -> {
          System.err.println("bench quality: unknown option '" + args[i] + "'");
          usage();
          return 2;
        }
      }
    }
    if (data == null) {
      System.err.println("bench quality: --data FILE.jsonl is required");
      usage();
      return 2;
    }
    List<Conversation> conversations = read(data);
    if (variants.isEmpty()) {
      variants.add(RecallTuning.defaults());
    }
    List<Map<String, Object>> answers = details == null ? null : new ArrayList<>();
    Map<String, Object> report = measure(conversations, modes, variants, cache, answers);
    print(report);
    if (details != null) {
      JSON.writeValue(details.toFile(), answers);
      System.out.println("wrote " + details);
    }
    if (out != null) {
      JSON.enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), report);
      System.out.println("wrote " + out);
    }
    return 0;
  }

  private static void usage() {
    System.err.println(
        """
        usage: ./engram bench quality --data FILE.jsonl [--mode similarity,associative,...] [--out FILE.json]
                                      [--embed-cache FILE] [--recall name=value,... [--recall ...]]
          FILE.jsonl: one conversation per line (docs/benchmarks.md, "Memory quality");
          engram-bench/scripts/locomo_to_jsonl.py converts LoCoMo's development conversations.
          --mode: the recall modes to ask in (default: every mode the protocol has)
          --embed-cache: keep the model's vectors per text in FILE (read, then updated), so a
            second run embeds nothing; keep it out of the source tree (e.g. under target/)
          --details: write every question's answer (ids, first evidence rank) per variant and mode
            to FILE (JSON), for per-question analysis
          --recall: ranking settings (RecallTuning, e.g. fusion=weighted,textWeight=0.7); each
            --recall is one variant, measured on a copy of the same loaded store (default: the
            engine's defaults)\
        """);
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }

  /** Every recall mode of the protocol, in its order. */
  static List<RecallMode> allModes() {
    return Arrays.stream(RecallMode.values())
        .filter(m -> m != RecallMode.RECALL_MODE_UNSPECIFIED && m != RecallMode.UNRECOGNIZED)
        .toList();
  }

  private static List<RecallMode> parseModes(String list) {
    List<RecallMode> out = new ArrayList<>();
    for (String name : list.split(",")) {
      String wanted = "RECALL_MODE_" + name.trim().toUpperCase();
      RecallMode mode =
          allModes().stream()
              .filter(m -> m.name().equals(wanted))
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "unknown mode '%s': use %s".formatted(name, modeNames())));
      out.add(mode);
    }
    return out;
  }

  private static List<String> modeNames() {
    return allModes().stream().map(QualityBench::shortName).toList();
  }

  static String shortName(RecallMode mode) {
    return mode.name().substring("RECALL_MODE_".length()).toLowerCase();
  }

  /** Reads the JSONL file: one conversation (space) per line. */
  static List<Conversation> read(Path file) throws IOException {
    List<Conversation> out = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = in.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        JsonNode node = JSON.readTree(line);
        String space = text(node, "space", file, number);
        List<Turn> turns = new ArrayList<>();
        for (JsonNode e : node.path("episodes")) {
          Map<String, String> metadata = new TreeMap<>();
          e.path("metadata")
              .properties()
              .forEach(p -> metadata.put(p.getKey(), p.getValue().asText()));
          turns.add(
              new Turn(
                  text(e, "id", file, number),
                  text(e, "content", file, number),
                  e.path("observed_at").asText(""),
                  metadata));
        }
        List<Question> questions = new ArrayList<>();
        for (JsonNode q : node.path("questions")) {
          List<String> evidence = new ArrayList<>();
          q.path("evidence").forEach(x -> evidence.add(x.asText()));
          questions.add(
              new Question(
                  text(q, "id", file, number),
                  text(q, "text", file, number),
                  evidence,
                  q.path("category").asText("none")));
        }
        out.add(new Conversation(space, turns, questions));
      }
    }
    return out;
  }

  private static String text(JsonNode node, String field, Path file, int line) {
    JsonNode v = node.get(field);
    if (v == null || v.asText().isEmpty()) {
      throw new IllegalArgumentException(
          "%s line %d: field '%s' is missing or empty".formatted(file, line, field));
    }
    return v.asText();
  }

  /** Loads every conversation into its own space and asks every question in every mode. */
  static Map<String, Object> measure(List<Conversation> conversations, List<RecallMode> modes)
      throws Exception {
    return measure(conversations, modes, List.of(RecallTuning.defaults()), null, null);
  }

  /**
   * Loads every conversation into its own space once, then for each ranking variant starts a server
   * on a copy of that store (so one variant's recalls, which reinforce memories and add co-recall
   * edges, do not change the next one's graph) and asks every question in every mode. The report's
   * {@code modes} are the first variant's; {@code variants} has them all.
   */
  static Map<String, Object> measure(
      List<Conversation> conversations,
      List<RecallMode> modes,
      List<RecallTuning> variants,
      Path cacheFile,
      List<Map<String, Object>> answers)
      throws Exception {
    CachingEmbedder embedder =
        new CachingEmbedder(Embedders.discover().require(EMBEDDER), cacheFile);
    Path dir = Files.createTempDirectory("engram-quality");
    Path loaded = dir.resolve("loaded");
    long episodes = 0;
    long loadNanos = 0;
    long cueNanos = 0;
    int cues = 0;
    List<List<float[]>> cueVectors = new ArrayList<>();
    List<Map<String, Object>> results = new ArrayList<>();
    try {
      try (EngramServer server = server(loaded, embedder, RecallTuning.defaults())) {
        ManagedChannel channel = channel(server);
        try {
          var stub = MemoryServiceGrpc.newBlockingStub(channel);
          for (Conversation c : conversations) {
            long start = System.nanoTime();
            load(stub, c);
            long took = System.nanoTime() - start;
            loadNanos += took;
            episodes += c.turns().size();
            System.err.printf(
                "%s: %d turns embedded, indexed and consolidated in %.1f s; %d questions%n",
                c.space(), c.turns().size(), took / 1e9, c.questions().size());
            List<String> texts = c.questions().stream().map(Question::text).toList();
            long cueStart = System.nanoTime();
            cueVectors.add(embedder.embed(texts));
            cueNanos += System.nanoTime() - cueStart;
            cues += texts.size();
          }
        } finally {
          channel.shutdownNow();
          channel.awaitTermination(5, TimeUnit.SECONDS);
        }
      }
      embedder.save();
      for (int v = 0; v < variants.size(); v++) {
        Path copy = dir.resolve("variant-" + v);
        copyTree(loaded, copy);
        RecallTuning tuning = variants.get(v);
        try (EngramServer server = server(copy, embedder, tuning)) {
          ManagedChannel channel = channel(server);
          try {
            var stub = MemoryServiceGrpc.newBlockingStub(channel);
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("recall", tuning.asMap());
            result.put("modes", ask(stub, conversations, cueVectors, modes, v, answers));
            results.add(result);
          } finally {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
          }
        }
        deleteQuietly(copy);
      }
    } finally {
      deleteQuietly(dir);
    }
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("embedder", EMBEDDER);
    report.put("spaces", conversations.size());
    report.put("episodes", episodes);
    report.put("questions", conversations.stream().mapToInt(c -> c.questions().size()).sum());
    report.put("load_episodes_per_s", round(episodes / Math.max(1e-9, loadNanos / 1e9)));
    report.put("cue_embeds_per_s", round(cues / Math.max(1e-9, cueNanos / 1e9)));
    report.put("model_embeds", embedder.misses());
    report.put("modes", results.getFirst().get("modes"));
    report.put("variants", results);
    return report;
  }

  private static EngramServer server(Path dir, CachingEmbedder embedder, RecallTuning tuning)
      throws IOException {
    EngramConfig config =
        EngramConfig.builder().embedders(Embedders.of(embedder)).recall(tuning).build();
    return EngramServer.start(0, StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER), config);
  }

  private static ManagedChannel channel(EngramServer server) {
    return Grpc.newChannelBuilder(
            "localhost:" + server.grpcPort(), InsecureChannelCredentials.create())
        .maxInboundMessageSize(64 * 1024 * 1024)
        .build();
  }

  /** Every question of every conversation in every mode: figures per mode, then per category. */
  private static Map<String, Object> ask(
      MemoryServiceGrpc.MemoryServiceBlockingStub stub,
      List<Conversation> conversations,
      List<List<float[]>> cueVectors,
      List<RecallMode> modes,
      int variant,
      List<Map<String, Object>> answers) {
    Map<String, Tally> byMode = new LinkedHashMap<>();
    Map<String, Map<String, Tally>> byCategory = new LinkedHashMap<>();
    for (int ci = 0; ci < conversations.size(); ci++) {
      Conversation c = conversations.get(ci);
      List<float[]> vectors = cueVectors.get(ci);
      for (RecallMode mode : modes) {
        for (int i = 0; i < Math.min(WARMUP, c.questions().size()); i++) {
          stub.recall(cue(c, c.questions().get(i), vectors.get(i), mode)); // not measured
        }
        for (int i = 0; i < c.questions().size(); i++) {
          Question q = c.questions().get(i);
          RecallRequest request = cue(c, q, vectors.get(i), mode);
          long t0 = System.nanoTime();
          RecallResponse answer = stub.recall(request);
          long nanos = System.nanoTime() - t0;
          int rank = firstEvidenceRank(answer, q.evidence());
          String name = shortName(mode);
          byMode.computeIfAbsent(name, n -> new Tally()).add(rank, nanos, answer.getTookMicros());
          byCategory
              .computeIfAbsent(name, n -> new TreeMap<>())
              .computeIfAbsent(q.category(), n -> new Tally())
              .add(rank, nanos, answer.getTookMicros());
          if (answers != null) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("variant", variant);
            a.put("mode", name);
            a.put("question", q.id());
            a.put("category", q.category());
            a.put("evidence", q.evidence());
            a.put("rank", rank);
            a.put(
                "ids", answer.getMemoriesList().stream().map(m -> m.getEpisode().getId()).toList());
            answers.add(a);
          }
        }
      }
    }
    Map<String, Object> modesOut = new LinkedHashMap<>();
    byMode.forEach(
        (name, tally) -> {
          Map<String, Object> m = tally.toMap();
          Map<String, Object> cats = new LinkedHashMap<>();
          byCategory.get(name).forEach((cat, t) -> cats.put(cat, t.toMap()));
          m.put("categories", cats);
          modesOut.put(name, m);
        });
    return modesOut;
  }

  /** A recall for {@code q}: its text and its vector, the deepest cutoff as {@code k}. */
  private static RecallRequest cue(Conversation c, Question q, float[] vector, RecallMode mode) {
    RecallRequest.Builder r =
        RecallRequest.newBuilder()
            .setMemorySpaceId(c.space())
            .setRequestId(q.id())
            .setText(q.text())
            .setK(CUTOFFS[CUTOFFS.length - 1])
            .setMode(mode);
    for (float x : vector) {
      r.addEmbedding(x);
    }
    return r.build();
  }

  /** Creates the conversation's space with the embedder and sends its turns as text only. */
  private static void load(MemoryServiceGrpc.MemoryServiceBlockingStub stub, Conversation c)
      throws InterruptedException {
    stub.createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId(c.space())
            .setMetric(Metric.METRIC_COSINE)
            .setEmbedder(EMBEDDER)
            .build());
    for (int from = 0; from < c.turns().size(); from += 128) {
      RememberRequest.Builder batch = RememberRequest.newBuilder().setMemorySpaceId(c.space());
      for (Turn t : c.turns().subList(from, Math.min(c.turns().size(), from + 128))) {
        Episode.Builder e =
            Episode.newBuilder().setId(t.id()).setContent(t.content()).putAllMetadata(t.metadata());
        if (!t.observedAt().isEmpty()) {
          Instant at = Instant.parse(t.observedAt());
          e.setObservedAt(
              Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()));
        }
        batch.addEpisodes(e);
      }
      stub.remember(batch.build());
    }
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
    GetSpaceRequest get = GetSpaceRequest.newBuilder().setMemorySpaceId(c.space()).build();
    while (true) {
      var space = stub.getSpace(get);
      if (space.getIndexedCount() >= c.turns().size()
          && space.getConsolidatedCount() >= c.turns().size()) {
        break; // the association graph is complete: associative figures do not depend on timing
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(c.space() + ": not indexed after 30 minutes");
      }
      Thread.sleep(20);
    }
  }

  /** The 1-based rank of the first memory that is evidence for the question; 0 if none. */
  static int firstEvidenceRank(RecallResponse answer, List<String> evidence) {
    for (int i = 0; i < answer.getMemoriesCount(); i++) {
      if (evidence.contains(answer.getMemories(i).getEpisode().getId())) {
        return i + 1;
      }
    }
    return 0;
  }

  @SuppressWarnings("unchecked")
  private static void print(Map<String, Object> report) {
    System.out.printf(
        "%d spaces, %d episodes, %d questions; server-side %s: load (embed + index) %.0f"
            + " episodes/s, cue embedding %.0f/s%n",
        report.get("spaces"),
        report.get("episodes"),
        report.get("questions"),
        report.get("embedder"),
        (Double) report.get("load_episodes_per_s"),
        (Double) report.get("cue_embeds_per_s"));
    System.out.printf(
        "%-28s %6s %7s %7s %7s %7s %8s %8s%n",
        "mode / category", "n", "hit@5", "hit@10", "hit@20", "MRR", "p50 ms", "p99 ms");
    for (Map<String, Object> variant : (List<Map<String, Object>>) report.get("variants")) {
      System.out.println("recall " + variant.get("recall"));
      printModes((Map<String, Object>) variant.get("modes"));
    }
  }

  @SuppressWarnings("unchecked")
  private static void printModes(Map<String, Object> modes) {
    modes.forEach(
        (mode, value) -> {
          Map<String, Object> m = (Map<String, Object>) value;
          row(mode, m);
          ((Map<String, Object>) m.get("categories"))
              .entrySet().stream()
                  .sorted(Comparator.comparing(Map.Entry::getKey))
                  .forEach(e -> row("  " + e.getKey(), (Map<String, Object>) e.getValue()));
        });
  }

  private static void row(String name, Map<String, Object> m) {
    System.out.printf(
        "%-28s %6d %7.3f %7.3f %7.3f %7.3f %8.2f %8.2f%n",
        name,
        (Integer) m.get("questions"),
        (Double) m.get("hit@5"),
        (Double) m.get("hit@10"),
        (Double) m.get("hit@20"),
        (Double) m.get("mrr"),
        (Double) m.get("latency_p50_ms"),
        (Double) m.get("latency_p99_ms"));
  }

  private static double round(double v) {
    return Math.round(v * 10_000) / 10_000.0;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      System.err.println("bench quality: could not delete " + dir + ": " + e.getMessage());
    }
  }
}
