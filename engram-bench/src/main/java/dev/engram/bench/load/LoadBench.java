package dev.engram.bench.load;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.engram.client.EngramClient;
import dev.engram.client.EngramStream;
import dev.engram.client.StreamListener;
import dev.engram.client.StreamOptions;
import dev.engram.core.EngramConfig;
import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.storage.StorageConfig;
import dev.engram.core.testdata.ClusteredVectors;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Memory;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.server.AccessOptions;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import dev.engram.server.tls.SelfSignedCert;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * The stream load generator: {@code ./engram bench load SCENARIO [options]}. Drives a server
 * (in-process on a free port by default, or {@code --target}) through the Java SDK and reports what
 * a client sees: accepted/s, ack latency, visibility and index lag, recall latency and quality, and
 * whether every acknowledged observation was stored exactly once. The streams go through the gRPC
 * door (the SDK) or the WebSocket door ({@link WsStreamClient}, {@code --door ws}); unary calls
 * (space admin, probes' recalls, verification) always use gRPC. The {@code recall} scenario times
 * gRPC unary against REST recall on the same data.
 *
 * <p>Threads: one producer per stream, a probe thread and a recall thread (sustained), one recall
 * thread per space (mixed), and a sampler that closes one-second buckets. Figures come from
 * HdrHistogram recorders (see {@link Metrics}). Asserts nothing; prints figures.
 */
public final class LoadBench {
  private static final int PROBE_INTERVAL_MS = 20;

  private final LoadOptions options;
  private final EngramClient client;
  private final EngramServer server;
  private final String httpTarget;
  private final Metrics metrics;
  private final String runId;
  private final List<String> spaces = new ArrayList<>();

  private LoadBench(
      LoadOptions options,
      EngramClient client,
      EngramServer server,
      String httpTarget,
      long serverStartedNanos) {
    this.options = options;
    this.client = client;
    this.server = server;
    this.httpTarget = httpTarget;
    this.metrics = new Metrics(server != null, options.warmup());
    metrics.serverStarted(serverStartedNanos);
    this.runId = Long.toString(System.currentTimeMillis() % 1_000_000, 36);
  }

  /** Runs the command line; returns the process exit code. */
  public static int run(String[] args) throws Exception {
    if (args.length > 0 && (args[0].equals("-h") || args[0].equals("--help"))) {
      System.out.println(LoadOptions.USAGE);
      return 0;
    }
    LoadOptions o;
    try {
      o = LoadOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bench load: " + e.getMessage());
      System.err.println(LoadOptions.USAGE);
      return 2;
    }
    if (o.consolidation().equals("compare") && o.target() == null) {
      int round = 0;
      for (String mode : List.of("off", "on", "off", "on")) {
        System.out.printf(Locale.ROOT, "--- round %d: consolidation %s%n", ++round, mode);
        runWith(o, mode);
      }
      return 0;
    }
    return runWith(o, o.consolidation());
  }

  /** The in-process server's admin token under {@code --auth on} (a fresh data directory). */
  private static final String BENCH_ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";

  /** One run of the scenario, on a fresh in-process server with consolidation on or off. */
  private static int runWith(LoadOptions o, String consolidation) throws Exception {
    EngramServer server = null;
    Path dataDir = null;
    Path trust = null; // the in-process server's certificate under --tls on
    String target = o.target();
    if (target == null) {
      dataDir = Files.createTempDirectory("engram-load-");
      EngramConfig.Builder config =
          EngramConfig.builder()
              .queueCapacity(
                  o.queueCapacity() > 0
                      ? o.queueCapacity()
                      : o.scenario().equals("burst") ? 250_000 : 10_000);
      if (o.workers() > 0) {
        config.workers(o.workers());
      }
      if (o.indexShare() > 0) {
        config.indexShare(o.indexShare());
      }
      config.warmup(o.serverWarmup());
      config.consolidation(
          consolidation.equals("off") ? ConsolidationConfig.off() : ConsolidationConfig.defaults());
      ListenOptions listen = ListenOptions.loopback();
      if (o.tls()) {
        SelfSignedCert.Pair pair =
            SelfSignedCert.write(dataDir.resolve("tls"), SelfSignedCert.DEFAULT_HOSTS);
        listen = listen.withTls(pair.cert(), pair.key());
        trust = pair.cert();
      }
      if (o.auth() && (o.door().equals("ws") || o.scenario().equals("recall"))) {
        throw new IllegalArgumentException(
            "--auth on measures the gRPC door: use it without --door ws and not with recall");
      }
      server =
          EngramServer.start(
              0,
              HttpOptions.onPort(0),
              listen,
              StorageConfig.of(dataDir),
              config.build(),
              o.metrics() ? EngramMetrics.prometheus() : EngramMetrics.noop(),
              o.auth() ? new AccessOptions(true, BENCH_ADMIN_TOKEN) : AccessOptions.OPEN);
      target = (o.tls() ? "localhost:" : "127.0.0.1:") + server.grpcPort();
      System.out.printf(
          Locale.ROOT,
          "in-process server warmed up in %d ms (%d kernel calls, %d episodes)%n",
          server.warmup().took().toMillis(),
          server.warmup().kernelCalls(),
          server.warmup().episodes());
    }
    long startedNanos = System.nanoTime(); // the server is ready: the cold window starts
    String httpTarget =
        server != null
            ? "127.0.0.1:" + server.httpPort()
            : o.httpTarget() != null
                ? o.httpTarget()
                : target.substring(0, target.lastIndexOf(':') + 1) + "7432";
    System.out.printf(
        Locale.ROOT,
        "engram bench load %s: target %s%s, http %s (%s), door %s, batch %d, dim %d, %s data%n",
        o.scenario(),
        target,
        trust != null ? " (TLS)" : "",
        httpTarget,
        server != null ? "in-process server" : "remote server",
        o.door(),
        o.batch(),
        o.fvecs() == null ? o.dimension() : -1,
        o.fvecs() == null ? "seeded clustered" : o.fvecs().toString());
    EngramClient.Builder clientBuilder = EngramClient.builder().target(target);
    if (trust != null) {
      clientBuilder.tls(trust);
    }
    if (server != null && o.auth()) {
      clientBuilder.token(BENCH_ADMIN_TOKEN);
    }
    try (EngramClient client = clientBuilder.build()) {
      LoadBench bench = new LoadBench(o, client, server, httpTarget, startedNanos);
      Report report = bench.runScenario();
      if (server != null) {
        report.put("consolidation", consolidation);
      }
      report.printTable(System.out);
      if (o.json() != null) {
        report.writeJson(o.json());
        System.out.println("wrote " + o.json());
      }
      if (o.svg() != null) {
        Report.writeSvg(
            o.svg(),
            "engram bench load " + o.scenario() + " (" + target + ")",
            bench.metrics.timeline);
        System.out.println("wrote " + o.svg());
      }
      bench.deleteSpaces();
    } finally {
      if (server != null) {
        server.close();
      }
      if (dataDir != null) {
        deleteTree(dataDir);
      }
    }
    return 0;
  }

  private Report runScenario() throws Exception {
    return switch (options.scenario()) {
      case "burst" -> burst();
      case "sustained" -> sustained();
      case "overload" -> overload();
      case "mixed" -> mixed();
      case "recall" -> recallLatency();
      case "associative" -> associativeLatency();
      default -> throw new IllegalStateException(options.scenario());
    };
  }

  // ---- scenarios ----

  /** As fast as possible, batched, until the first backpressure signal (or the duration). */
  private Report burst() throws Exception {
    VectorSource source = source(0);
    String space = createSpace("burst", source.dimension());
    Episode[] pool = new Episode[20_000];
    for (int i = 0; i < pool.length; i++) {
      pool[i] = episode("", source.next(), "");
    }
    StreamMeter meter = new StreamMeter(metrics);
    LoadStream stream = openStream(space, meter, 8192);
    ScheduledExecutorService sampler = startSampler();
    long start = System.nanoTime(); // the window opens at the first observe call
    long end = start + options.duration().toNanos();
    long ticket = 0;
    while (meter.firstBackpressureNanos.get() == 0 && System.nanoTime() < end) {
      meter.observing(ticket, System.nanoTime());
      stream.observe(pool[(int) (ticket % pool.length)]);
      ticket++;
    }
    long stopped = System.nanoTime();
    stopSampler(sampler);
    long ackedAtStop = metrics.acked.sum();
    long bpAt = meter.firstBackpressureNanos.get();
    long bpNanos = bpAt == 0 ? 0 : Math.max(1, bpAt - start);
    long ackedAtBp = meter.ackedAtFirstBackpressure.get();
    // Acks received from the first observe call until the first backpressure signal arrived (or,
    // without one, until the producer stopped), over that time.
    double seconds = (bpNanos > 0 ? bpNanos : stopped - start) / 1e9;
    long accepted = bpNanos > 0 ? ackedAtBp : ackedAtStop;
    boolean drained = stream.close(Duration.ofSeconds(20));
    Report r = new Report("burst");
    r.put("accepted_per_s", accepted / seconds)
        .put("ack_p50_ms", Metrics.ms(metrics.ackTotal, 50))
        .put("ack_p99_ms", Metrics.ms(metrics.ackTotal, 99))
        .put("cold_ack_p99_ms", Metrics.ms(metrics.ackColdTotal, 99))
        .put("acked", metrics.acked.sum())
        .put("observed", ticket)
        .put("seconds_to_first_backpressure", bpNanos > 0 ? bpNanos / 1e9 : null)
        .put("accepted_before_backpressure", bpNanos > 0 ? ackedAtBp : null)
        .put("resent", stream.resent())
        .put("rejected", stream.rejected())
        .put("closed_cleanly", drained);
    verify(r, List.of(space), metrics.acked.sum());
    return timeline(r);
  }

  /** A fixed rate (default half the sustainable rate) with probes and concurrent recalls. */
  private Report sustained() throws Exception {
    VectorSource source = source(0);
    double sustainable = options.rate() > 0 ? 0 : calibrate(source.dimension());
    double rate = options.rate() > 0 ? options.rate() : 0.5 * sustainable;
    String space = createSpace("sustained", source.dimension());
    StreamMeter meter = new StreamMeter(metrics);
    StreamMeter probeMeter = new StreamMeter(new Metrics(false));
    LoadStream stream = openStream(space, meter, 8192);
    LoadStream probes = openStream(space, probeMeter, 1024);
    List<float[]> sent = new ArrayList<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger probeCount = new AtomicInteger();
    AtomicInteger probeMisses = new AtomicInteger();
    ScheduledExecutorService sampler = startSampler();
    Thread probe =
        Thread.ofPlatform()
            .name("load-probe")
            .start(() -> probeLoop(space, probes, probeMeter, stop, probeCount, probeMisses));
    VectorSource querySource = source(0);
    Thread recaller =
        Thread.ofPlatform().name("load-recall").start(() -> recallLoop(space, querySource, stop));
    Window window = produce(stream, meter, source, rate, "d-", sent);
    long observed = window.observed();
    stop.set(true);
    probe.join();
    recaller.join();
    stopSampler(sampler);
    boolean drained = stream.close(Duration.ofSeconds(60)) & probes.close(Duration.ofSeconds(10));
    long ackedProbes = probeMeter.ackedThrough.get() + 1;
    double recallAt10 = recallAt10(space, sent, source.dimension());
    Report r = new Report("sustained");
    r.put("accepted_per_s", window.acceptedPerSecond())
        .put("ack_p50_ms", Metrics.ms(metrics.ackTotal, 50))
        .put("ack_p99_ms", Metrics.ms(metrics.ackTotal, 99))
        .put("ack_p999_ms", Metrics.ms(metrics.ackTotal, 99.9))
        .put("cold_ack_p50_ms", Metrics.ms(metrics.ackColdTotal, 50))
        .put("cold_ack_p99_ms", Metrics.ms(metrics.ackColdTotal, 99))
        .put("cold_acks", metrics.ackColdTotal.getTotalCount())
        .put("visibility_p50_ms", Metrics.ms(metrics.visibilityTotal, 50))
        .put("visibility_p99_ms", Metrics.ms(metrics.visibilityTotal, 99))
        .put("visibility_p999_ms", Metrics.ms(metrics.visibilityTotal, 99.9))
        .put("cold_visibility_p99_ms", Metrics.ms(metrics.visibilityColdTotal, 99))
        .put("visible_at_ack", probeMeter.visibleAtAck.sum())
        .put("index_lag_p50_ms", Metrics.ms(metrics.indexLagTotal, 50))
        .put("index_lag_p99_ms", Metrics.ms(metrics.indexLagTotal, 99))
        .put("index_lag_p999_ms", Metrics.ms(metrics.indexLagTotal, 99.9))
        .put("recall_p50_ms", Metrics.ms(metrics.recallTotal, 50))
        .put("recall_p99_ms", Metrics.ms(metrics.recallTotal, 99))
        .put("recall_p999_ms", Metrics.ms(metrics.recallTotal, 99.9))
        .put("recall_at_10", recallAt10)
        .put("acked", metrics.acked.sum() + ackedProbes)
        .put("sustainable_rate_per_s", sustainable > 0 ? sustainable : null)
        .put("offered_rate_per_s", rate)
        .put("observed", observed)
        .put("probes", probeCount.get())
        .put("probes_missed_after_ack", probeMisses.get())
        .put("calibrated_first", sustainable > 0)
        .put("recalls", metrics.recalls.sum())
        .put("backpressure_signals", meter.backpressureSignals.sum())
        .put("resent", stream.resent())
        .put("rejected", stream.rejected())
        .put("closed_cleanly", drained);
    verify(r, List.of(space), metrics.acked.sum() + ackedProbes);
    return timeline(r);
  }

  /** Twice the sustainable rate for a bounded time; proves nothing acknowledged is lost. */
  private Report overload() throws Exception {
    VectorSource source = source(0);
    double sustainable = options.rate() > 0 ? 0 : calibrate(source.dimension());
    double rate = options.rate() > 0 ? options.rate() : 2 * sustainable;
    String space = createSpace("overload", source.dimension());
    StreamMeter meter = new StreamMeter(metrics);
    LoadStream stream = openStream(space, meter, 8192);
    List<float[]> sent = new ArrayList<>();
    ScheduledExecutorService sampler = startSampler();
    Window window = produce(stream, meter, source, rate, "o-", sent);
    long observed = window.observed();
    stopSampler(sampler);
    boolean drained = stream.close(Duration.ofSeconds(60));
    long acked = metrics.acked.sum(); // after the drain: what must all be stored
    long bpAt = meter.firstBackpressureNanos.get();
    long bp = bpAt == 0 ? 0 : Math.max(1, bpAt - window.startNanos());
    Report r = new Report("overload");
    r.put("accepted_per_s", window.acceptedPerSecond())
        .put("acked_in_window", window.acked())
        .put("ack_p50_ms", Metrics.ms(metrics.ackTotal, 50))
        .put("ack_p99_ms", Metrics.ms(metrics.ackTotal, 99))
        .put("ack_p999_ms", Metrics.ms(metrics.ackTotal, 99.9))
        .put("index_lag_p99_ms", Metrics.ms(metrics.indexLagTotal, 99))
        .put("acked", acked)
        .put("sustainable_rate_per_s", sustainable > 0 ? sustainable : null)
        .put("offered_rate_per_s", rate)
        .put("observed", observed)
        .put("ms_to_first_backpressure", bp > 0 ? bp / 1e6 : null)
        .put("backpressure_signals", meter.backpressureSignals.sum())
        .put("overload_resends", meter.overloadResends.sum())
        .put("resent", stream.resent())
        .put("rejected", stream.rejected())
        .put(
            "server_heap_high_water_mb",
            server != null ? metrics.heapHighWater.get() / (1024.0 * 1024) : null)
        .put("closed_cleanly", drained);
    verify(r, List.of(space), acked);
    r.put("top1_by_vector_sample", sampleTop1(space, sent, "o-", 200));
    return timeline(r);
  }

  /** Several streams on several spaces, observing and recalling on the streams together. */
  private Report mixed() throws Exception {
    VectorSource calib = source(0);
    double sustainable = options.rate() > 0 ? 0 : calibrate(calib.dimension());
    double rate = options.rate() > 0 ? options.rate() : 0.5 * sustainable;
    List<String> mine = new ArrayList<>();
    for (int i = 0; i < options.spaces(); i++) {
      mine.add(createSpace("mixed" + i, calib.dimension()));
    }
    List<LoadStream> streams = new ArrayList<>();
    List<StreamMeter> meters = new ArrayList<>();
    for (int s = 0; s < options.streams(); s++) {
      StreamMeter m = new StreamMeter(metrics);
      meters.add(m);
      streams.add(openStream(mine.get(s % mine.size()), m, 8192));
    }
    AtomicBoolean stop = new AtomicBoolean();
    ScheduledExecutorService sampler = startSampler();
    List<Thread> threads = new ArrayList<>();
    long mixedStart = System.nanoTime();
    for (int s = 0; s < streams.size(); s++) {
      int n = s;
      threads.add(
          Thread.ofPlatform()
              .name("load-producer-" + n)
              .start(
                  () ->
                      produce(
                          streams.get(n),
                          meters.get(n),
                          source(n),
                          rate / streams.size(),
                          "m" + n + "-",
                          null)));
    }
    List<Thread> recallers = new ArrayList<>();
    for (int p = 0; p < mine.size(); p++) {
      LoadStream on = streams.get(p % streams.size());
      VectorSource q = source(100 + p);
      recallers.add(
          Thread.ofPlatform().name("load-recall-" + p).start(() -> streamRecallLoop(on, q, stop)));
    }
    for (Thread t : threads) {
      t.join();
    }
    long mixedEnd = System.nanoTime();
    long ackedInWindow = metrics.acked.sum();
    stop.set(true);
    for (Thread t : recallers) {
      t.join();
    }
    stopSampler(sampler);
    long resent = 0;
    long rejected = 0;
    boolean drained = true;
    for (LoadStream s : streams) {
      resent += s.resent();
      rejected += s.rejected();
      drained &= s.close(Duration.ofSeconds(60));
    }
    Report r = new Report("mixed");
    r.put("accepted_per_s", ackedInWindow / ((mixedEnd - mixedStart) / 1e9))
        .put("ack_p50_ms", Metrics.ms(metrics.ackTotal, 50))
        .put("ack_p99_ms", Metrics.ms(metrics.ackTotal, 99))
        .put("ack_p999_ms", Metrics.ms(metrics.ackTotal, 99.9))
        .put("index_lag_p99_ms", Metrics.ms(metrics.indexLagTotal, 99))
        .put("recall_p50_ms", Metrics.ms(metrics.recallTotal, 50))
        .put("recall_p99_ms", Metrics.ms(metrics.recallTotal, 99))
        .put("recall_p999_ms", Metrics.ms(metrics.recallTotal, 99.9))
        .put("acked", metrics.acked.sum())
        .put("streams", options.streams())
        .put("spaces", options.spaces())
        .put("sustainable_rate_per_s", sustainable > 0 ? sustainable : null)
        .put("offered_rate_per_s", rate)
        .put("recalls", metrics.recalls.sum())
        .put("resent", resent)
        .put("rejected", rejected)
        .put("closed_cleanly", drained);
    verify(r, mine, metrics.acked.sum());
    return timeline(r);
  }

  /**
   * Recall latency through two doors on the same server and data: stores {@code --episodes}
   * observations (through {@code --door}), waits until they are indexed, then sends the same k=10
   * cluster queries one at a time by gRPC unary {@code Recall} and by REST {@code POST
   * /v1/spaces/{id}/recall}, back to back, alternating which door goes first. Latency: from the
   * call with a {@code float[]} to the parsed answer in hand (the client's encoding and decoding
   * included: protobuf for gRPC, JSON for REST).
   */
  private Report recallLatency() throws Exception {
    VectorSource source = source(0);
    String space = createSpace("recall", source.dimension());
    LoadStream stream = openStream(space, new StreamListener() {}, 8192);
    for (int i = 0; i < options.episodes(); i++) {
      stream.observe(episode("r-" + i, source.next(), ""));
    }
    boolean drained = stream.close(Duration.ofSeconds(120));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
    while (client.getSpace(space).getIndexedCount() < options.episodes()
        && System.nanoTime() < deadline) {
      LockSupport.parkNanos(50_000_000);
    }
    Histogram grpc = new Histogram(3_600_000_000L, 3);
    Histogram rest = new Histogram(3_600_000_000L, 3);
    URI uri = URI.create("http://" + httpTarget + "/v1/spaces/" + space + "/recall");
    long queries = 0;
    long sameTop1 = 0;
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
      long start = System.nanoTime();
      long end = start + options.duration().toNanos();
      long measureFrom = start + options.warmup().toNanos();
      while (System.nanoTime() < end) {
        float[] q = source.query();
        boolean restFirst = (queries & 1) == 1;
        boolean measured = System.nanoTime() >= measureFrom;
        String[] top1 = new String[2];
        for (int j = 0; j < 2; j++) {
          boolean viaRest = (j == 0) == restFirst;
          long t0 = System.nanoTime();
          RecallResponse r = viaRest ? restRecall(http, uri, q, 10) : client.recall(space, q, 10);
          long micros = (System.nanoTime() - t0) / 1000;
          if (measured) {
            (viaRest ? rest : grpc).recordValue(micros);
          }
          top1[viaRest ? 1 : 0] =
              r.getMemoriesCount() == 0 ? "" : r.getMemories(0).getEpisode().getId();
        }
        queries++;
        if (top1[0].equals(top1[1])) {
          sameTop1++;
        }
      }
    }
    Report r = new Report("recall");
    return r.put("grpc_recall_p50_ms", Metrics.ms(grpc, 50))
        .put("grpc_recall_p99_ms", Metrics.ms(grpc, 99))
        .put("grpc_recall_p999_ms", Metrics.ms(grpc, 99.9))
        .put("rest_recall_p50_ms", Metrics.ms(rest, 50))
        .put("rest_recall_p99_ms", Metrics.ms(rest, 99))
        .put("rest_recall_p999_ms", Metrics.ms(rest, 99.9))
        .put("queries_per_door", queries)
        .put("measured_per_door", grpc.getTotalCount())
        .put("same_top1_fraction", queries == 0 ? null : sameTop1 / (double) queries)
        .put("episodes", options.episodes())
        .put("indexed", client.getSpace(space).getIndexedCount())
        .put("k", 10)
        .put("door", options.door())
        .put("loaded_cleanly", drained)
        .put("duration_s", options.duration().toMillis() / 1000.0)
        .put("latency_warmup_s", options.warmup().toMillis() / 1000.0);
  }

  /**
   * {@code ASSOCIATIVE} against {@code SIMILARITY} recall latency: stores {@code --episodes}
   * observations on one stream (consecutive observations get session edges; each episode's text
   * names its cluster), waits until they are indexed and consolidated, then sends the same k=10
   * cluster queries by gRPC unary {@code Recall} in both modes, alternating which goes first.
   */
  private Report associativeLatency() throws Exception {
    VectorSource source = source(0);
    double sustainable = options.rate() > 0 ? 0 : calibrate(source.dimension());
    double ingestRate = options.rate() > 0 ? options.rate() : 0.5 * sustainable;
    String space = createSpace("associative", source.dimension());
    LoadStream stream = openStream(space, new StreamListener() {}, 8192);
    long loadStart = System.nanoTime();
    for (int i = 0; i < options.episodes(); i++) {
      stream.observe(episode("a-" + i, source.next(), "episode " + i));
    }
    boolean drained = stream.close(Duration.ofSeconds(300));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(900);
    while (client.getSpace(space).getIndexedCount() < options.episodes()
        && System.nanoTime() < deadline) {
      LockSupport.parkNanos(50_000_000);
    }
    double indexedS = (System.nanoTime() - loadStart) / 1e9;
    while (client.getSpace(space).getConsolidatedCount() < options.episodes()
        && System.nanoTime() < deadline) {
      LockSupport.parkNanos(50_000_000);
    }
    double consolidatedS = (System.nanoTime() - loadStart) / 1e9;
    Histogram similarity = new Histogram(3_600_000_000L, 3);
    Histogram associative = new Histogram(3_600_000_000L, 3);
    long queries = 0;
    // Recalls run while new episodes (with text) stream into the same space at the ingest rate.
    LoadStream ingest = openStream(space, new StreamListener() {}, 8192);
    VectorSource ingestSource = source(7);
    AtomicBoolean stopIngest = new AtomicBoolean();
    AtomicLong ingested = new AtomicLong();
    Thread ingester =
        Thread.ofPlatform()
            .name("load-ingest")
            .start(
                () -> {
                  long t0 = System.nanoTime();
                  long n = 0;
                  while (!stopIngest.get()) {
                    long due = t0 + (long) (n * 1e9 / ingestRate);
                    long now = System.nanoTime();
                    if (due > now) {
                      LockSupport.parkNanos(due - now);
                      continue;
                    }
                    ingest.observe(episode("i-" + n, ingestSource.next(), "new episode " + n));
                    n++;
                    ingested.set(n);
                  }
                });
    long start = System.nanoTime();
    long end = start + options.duration().toNanos();
    long measureFrom = start + options.warmup().toNanos();
    long spread = 0;
    while (System.nanoTime() < end) {
      float[] q = source.query();
      boolean associativeFirst = (queries & 1) == 1;
      boolean measured = System.nanoTime() >= measureFrom;
      for (int j = 0; j < 2; j++) {
        boolean isAssociative = (j == 0) == associativeFirst;
        RecallRequest.Builder request =
            RecallRequest.newBuilder()
                .setMemorySpaceId(space)
                .setK(10)
                .setMode(
                    isAssociative
                        ? RecallMode.RECALL_MODE_ASSOCIATIVE
                        : RecallMode.RECALL_MODE_SIMILARITY);
        for (float f : q) {
          request.addEmbedding(f);
        }
        long t0 = System.nanoTime();
        RecallResponse r = client.recall(request.build());
        long micros = (System.nanoTime() - t0) / 1000;
        if (measured) {
          (isAssociative ? associative : similarity).recordValue(micros);
        }
        if (isAssociative) {
          for (var m : r.getMemoriesList()) {
            if (m.getExplanation().getHops() > 0) {
              spread++;
            }
          }
        }
      }
      queries++;
    }
    double ingestSeconds = (System.nanoTime() - start) / 1e9;
    stopIngest.set(true);
    ingester.join();
    boolean ingestDrained = ingest.close(Duration.ofSeconds(60));
    var info = client.getSpace(space);
    Report r = new Report("associative");
    r.put("ingest_offered_per_s", ingestRate)
        .put("ingest_sent_per_s", ingested.get() / ingestSeconds)
        .put("ingest_stored", info.getEpisodeCount() - options.episodes())
        .put("ingest_drained", ingestDrained)
        .put("sustainable_rate_per_s", sustainable > 0 ? sustainable : null);
    return r.put("associative_recall_p50_ms", Metrics.ms(associative, 50))
        .put("associative_recall_p99_ms", Metrics.ms(associative, 99))
        .put("associative_recall_p999_ms", Metrics.ms(associative, 99.9))
        .put("similarity_recall_p50_ms", Metrics.ms(similarity, 50))
        .put("similarity_recall_p99_ms", Metrics.ms(similarity, 99))
        .put("similarity_recall_p999_ms", Metrics.ms(similarity, 99.9))
        .put("queries_per_mode", queries)
        .put("measured_per_mode", associative.getTotalCount())
        .put("associative_hits_reached_by_spreading", spread)
        .put("episodes", options.episodes())
        .put("indexed", info.getIndexedCount())
        .put("consolidated", info.getConsolidatedCount())
        .put("seconds_to_indexed", indexedS)
        .put("seconds_to_consolidated", consolidatedS)
        .put("k", 10)
        .put("loaded_cleanly", drained)
        .put("duration_s", options.duration().toMillis() / 1000.0)
        .put("latency_warmup_s", options.warmup().toMillis() / 1000.0);
  }

  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().omittingInsignificantWhitespace();

  /** One REST recall: the RecallRequest as JSON in, the RecallResponse parsed out. */
  private static RecallResponse restRecall(HttpClient http, URI uri, float[] q, int k)
      throws IOException, InterruptedException {
    RecallRequest.Builder b = RecallRequest.newBuilder().setK(k);
    for (float f : q) {
      b.addEmbedding(f);
    }
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.print(b)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IOException("REST recall: HTTP " + response.statusCode() + " " + response.body());
    }
    RecallResponse.Builder out = RecallResponse.newBuilder();
    try {
      JsonFormat.parser().merge(response.body(), out);
    } catch (InvalidProtocolBufferException e) {
      throw new IOException("REST recall: the answer is not a RecallResponse", e);
    }
    return out.build();
  }

  // ---- building blocks ----

  /**
   * Measures the sustainable rate: how fast the server indexes (drains its queue) while a stream
   * pushes as fast as it can, over the last 4 s of a 6 s push into a scratch space.
   */
  private double calibrate(int dimension) throws Exception {
    VectorSource source = source(999);
    String space = createSpace("calib", dimension);
    Episode[] pool = new Episode[5_000];
    for (int i = 0; i < pool.length; i++) {
      pool[i] = episode("", source.next(), "");
    }
    EngramStream stream =
        client.openStream(space, StreamOptions.builder().bufferSize(8192).build());
    long start = System.nanoTime();
    long mark = start + TimeUnit.SECONDS.toNanos(2);
    long end = start + TimeUnit.SECONDS.toNanos(6);
    long indexedAtMark = -1;
    long markNanos = 0;
    int i = 0;
    while (System.nanoTime() < end) {
      if (indexedAtMark < 0 && System.nanoTime() >= mark) {
        indexedAtMark = client.getSpace(space).getIndexedCount();
        markNanos = System.nanoTime();
      }
      stream.tryObserve(pool[i++ % pool.length]);
    }
    long indexed = client.getSpace(space).getIndexedCount();
    double rate = (indexed - indexedAtMark) / ((System.nanoTime() - markNanos) / 1e9);
    stream.close(Duration.ZERO);
    client.deleteSpace(space);
    spaces.remove(space);
    // Let the server finish what the scratch space left queued before measuring.
    if (server != null) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (server.engine().ingestStats().depth() > 0 && System.nanoTime() < deadline) {
        LockSupport.parkNanos(10_000_000);
      }
    }
    System.out.printf(
        Locale.ROOT, "calibration: sustainable (index drain) rate %.0f obs/s%n", rate);
    return Math.max(rate, 100);
  }

  /**
   * The measured window of one producer: from its first observe call to the end of its duration,
   * with the acks received by then.
   */
  record Window(long observed, long startNanos, long endNanos, long acked) {
    /** Acks received in the window over the window's length (acks after it do not count). */
    double acceptedPerSecond() {
      return acked / ((endNanos - startNanos) / 1e9);
    }
  }

  /** Observes at {@code rate}/s (0 = unpaced) until the duration ends. */
  private Window produce(
      LoadStream stream,
      StreamMeter meter,
      VectorSource source,
      double rate,
      String idPrefix,
      List<float[]> keep) {
    long start = System.nanoTime();
    long end = start + options.duration().toNanos();
    long ticket = 0;
    while (true) {
      long now = System.nanoTime();
      if (now >= end) {
        break;
      }
      if (rate > 0) {
        long due = start + (long) (ticket * 1e9 / rate);
        if (due > now) {
          LockSupport.parkNanos(due - now);
          continue;
        }
      }
      float[] v = source.next();
      meter.observing(ticket, System.nanoTime());
      stream.observe(episode(idPrefix + ticket, v, ""));
      if (keep != null) {
        keep.add(v);
      }
      ticket++;
    }
    long stopped = System.nanoTime();
    long acked = metrics.acked.sum();
    metrics.observed.add(ticket);
    return new Window(ticket, start, stopped, acked);
  }

  /**
   * Visibility probes: observe a unique vector, then recall it (unary, another connection) back to
   * back until it is top-1, without waiting for the ack. Visibility = the send time of the first
   * recall that returns it minus the time its ack arrived, 0 when a recall sent before the ack
   * arrived already returned it (the server made it visible before it acknowledged). The figure's
   * resolution is one recall round trip (the gap between two recall sends), not a thread wake-up:
   * the probe thread never sleeps between the observe call and the finding recall.
   */
  private void probeLoop(
      String space,
      LoadStream probes,
      StreamMeter meter,
      AtomicBoolean stop,
      AtomicInteger count,
      AtomicInteger misses) {
    Random random = new Random(options.seed() + 7);
    int dim = probes == null ? 0 : dimensionOf(space);
    long ticket = 0;
    while (!stop.get()) {
      float[] v = randomUnit(random, dim);
      String id = "probe-" + ticket;
      long observedAt = System.nanoTime();
      meter.observing(ticket, observedAt);
      probes.observe(episode(id, v, ""));
      boolean first = true;
      while (!stop.get()) {
        boolean ackedBeforeSend = meter.ackedThrough.get() >= ticket;
        long sentAt = System.nanoTime();
        RecallResponse r = client.recall(space, v, 1);
        metrics.recall.recordValue((System.nanoTime() - sentAt) / 1000);
        metrics.recalls.increment();
        if (r.getMemoriesCount() > 0 && r.getMemories(0).getEpisode().getId().equals(id)) {
          // Wait for the ack if it is still on its way: its arrival time is stamped by the
          // listener, so how fast this thread notices does not change the figure.
          while (meter.ackedThrough.get() < ticket && !stop.get()) {
            LockSupport.parkNanos(10_000);
          }
          if (meter.ackedThrough.get() < ticket) {
            break; // stopped before the ack came: no figure for this probe
          }
          long ackedAt = meter.ackedAt(ticket);
          long micros = Math.max(0, (sentAt - ackedAt) / 1000);
          if (sentAt - ackedAt <= 0) {
            meter.visibleAtAck.increment();
          }
          metrics.visibility.recordValue(micros);
          if (metrics.cold(observedAt)) {
            metrics.visibilityCold.recordValue(micros);
          }
          break;
        }
        if (first && ackedBeforeSend) {
          misses.incrementAndGet(); // acknowledged, and yet a recall sent after the ack missed it
          first = false;
        }
      }
      count.incrementAndGet();
      ticket++;
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(PROBE_INTERVAL_MS));
    }
  }

  /** Unary recalls of cluster queries, back to back with a 5 ms pause, timing each. */
  private void recallLoop(String space, VectorSource queries, AtomicBoolean stop) {
    while (!stop.get()) {
      float[] q = queries.query();
      long t0 = System.nanoTime();
      client.recall(space, q, 10);
      metrics.recall.recordValue((System.nanoTime() - t0) / 1000);
      metrics.recalls.increment();
      LockSupport.parkNanos(5_000_000);
    }
  }

  /** Recalls on a stream (they queue behind its observations), timing each. */
  private void streamRecallLoop(LoadStream stream, VectorSource queries, AtomicBoolean stop) {
    while (!stop.get()) {
      float[] q = queries.query();
      long t0 = System.nanoTime();
      CompletableFuture<RecallResponse> f = stream.recall(q, 10);
      f.join();
      metrics.recall.recordValue((System.nanoTime() - t0) / 1000);
      metrics.recalls.increment();
      LockSupport.parkNanos(5_000_000);
    }
  }

  /** recall@10 of 200 cluster queries against exact search over what was stored. */
  private double recallAt10(String space, List<float[]> data, int dimension) {
    if (data.isEmpty()) {
      return Double.NaN;
    }
    VectorSource q = source(0);
    float[][] queries = new float[200][];
    for (int i = 0; i < queries.length; i++) {
      queries[i] = q.query();
    }
    float[][] all = data.toArray(float[][]::new);
    int[][] truth =
        ClusteredVectors.exactTopK(all, queries, 10, dev.engram.core.model.Metric.COSINE);
    int[][] found = new int[queries.length][];
    for (int i = 0; i < queries.length; i++) {
      RecallResponse r = client.recall(space, queries[i], 10);
      found[i] =
          r.getMemoriesList().stream()
              .map(Memory::getEpisode)
              .map(Episode::getId)
              .filter(id -> id.startsWith("d-"))
              .mapToInt(id -> Integer.parseInt(id.substring(2)))
              .toArray();
    }
    return ClusteredVectors.recall(truth, found, 10);
  }

  /** Fraction of a sample of stored observations found as top-1 by their own vector. */
  private double sampleTop1(String space, List<float[]> sent, String prefix, int n) {
    if (sent.isEmpty()) {
      return Double.NaN;
    }
    Random random = new Random(options.seed());
    int hits = 0;
    for (int i = 0; i < n; i++) {
      int t = random.nextInt(sent.size());
      RecallResponse r = client.recall(space, sent.get(t), 1);
      if (r.getMemoriesCount() > 0 && r.getMemories(0).getEpisode().getId().equals(prefix + t)) {
        hits++;
      }
    }
    return hits / (double) n;
  }

  /** Exactly-once check through the unary API: stored (episode_count) against acknowledged. */
  private void verify(Report r, List<String> spaceIds, long acked) {
    long stored = 0;
    for (String s : spaceIds) {
      stored += client.getSpace(s).getEpisodeCount();
    }
    r.put("stored", stored)
        .put("lost", Math.max(0, acked - stored))
        .put("duplicated", Math.max(0, stored - acked));
  }

  private Report timeline(Report r) {
    List<double[]> rows = new ArrayList<>();
    for (Metrics.Second s : metrics.timeline) {
      rows.add(
          new double[] {s.t(), s.ackedPerSecond(), s.ackP50Ms(), s.ackP99Ms(), s.recallP99Ms()});
    }
    return r.put("door", options.door())
        .put("batch", options.batch())
        .put("duration_s", options.duration().toMillis() / 1000.0)
        .put("latency_warmup_s", options.warmup().toMillis() / 1000.0)
        .put(
            "timeline_columns",
            List.of("t_s", "acked_per_s", "ack_p50_ms", "ack_p99_ms", "recall_p99_ms"))
        .put("timeline", rows);
  }

  private ScheduledExecutorService startSampler() {
    ScheduledExecutorService s =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "load-sampler");
              t.setDaemon(true);
              return t;
            });
    s.scheduleAtFixedRate(metrics::sampleHeap, 0, 100, TimeUnit.MILLISECONDS);
    s.scheduleAtFixedRate(metrics::sample, 1, 1, TimeUnit.SECONDS);
    return s;
  }

  private void stopSampler(ScheduledExecutorService s) throws InterruptedException {
    s.shutdown();
    s.awaitTermination(5, TimeUnit.SECONDS);
    metrics.finish();
  }

  /** A stream through the chosen door, reporting to {@code meter}. */
  private LoadStream openStream(String space, StreamListener meter, int buffer) {
    return switch (options.door()) {
      case "grpc" -> LoadStream.grpc(client.openStream(space, streamOptions(meter, buffer)));
      case "ws" -> WsStreamClient.open(httpTarget, space, buffer, options.batch(), meter);
      default -> throw new IllegalStateException("door " + options.door());
    };
  }

  private StreamOptions streamOptions(StreamListener meter, int buffer) {
    return StreamOptions.builder()
        .bufferSize(buffer)
        .maxBatchSize(options.batch())
        .blockWhenFull(Duration.ofSeconds(60))
        .closeTimeout(Duration.ofSeconds(60))
        .listener(meter)
        .build();
  }

  private VectorSource source(int stream) {
    try {
      return options.fvecs() != null
          ? VectorSource.fvecs(options.fvecs(), options.seed())
          : VectorSource.clustered(options.dimension(), options.seed() + stream * 1_000_003L);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read --fvecs " + options.fvecs() + ": " + e, e);
    }
  }

  private String createSpace(String name, int dimension) {
    String id = "load-" + runId + "-" + name;
    client.createSpace(id, dimension, Metric.METRIC_COSINE);
    spaces.add(id);
    return id;
  }

  private int dimensionOf(String space) {
    return client.getSpace(space).getDimension();
  }

  private void deleteSpaces() {
    for (String s : spaces) {
      try {
        client.deleteSpace(s);
      } catch (RuntimeException e) {
        System.err.println("could not delete space " + s + ": " + e.getMessage());
      }
    }
  }

  private static Episode episode(String id, float[] v, String content) {
    Episode.Builder b = Episode.newBuilder().setId(id).setContent(content).setConfidence(1f);
    for (float f : v) {
      b.addEmbedding(f);
    }
    return b.build();
  }

  private static float[] randomUnit(Random random, int dim) {
    float[] v = new float[dim];
    double norm = 0;
    for (int i = 0; i < dim; i++) {
      v[i] = (float) random.nextGaussian();
      norm += v[i] * v[i];
    }
    for (int i = 0; i < dim; i++) {
      v[i] /= (float) Math.sqrt(norm);
    }
    return v;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
