package dev.engram.bench.load;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The load generator's command line, parsed and validated. A 0 rate means "derive it from a short
 * calibration of the sustainable rate"; null paths mean "do not write that file".
 *
 * @param scenario burst, sustained, overload, mixed, recall or associative
 * @param target host:port of a running server's gRPC door, or null to start one in-process
 * @param door the stream door the scenarios observe through: grpc or ws (WebSocket)
 * @param httpTarget host:port of the running server's HTTP door (ws, and REST in recall), or null
 *     for the target's host on port 7432 (in-process: its free HTTP port)
 * @param batch most observations per stream message (both doors)
 * @param episodes recall: how many episodes the space holds before the recalls
 * @param duration how long the measured phase runs
 * @param warmup how long at the start of the measured phase is left out of the latency figures
 * @param dimension vector dimension (ignored with an fvecs file, which sets it)
 * @param rate observations per second offered (all streams together), 0 = calibrate
 * @param streams concurrent streams
 * @param spaces memory spaces the streams spread over
 * @param fvecs vectors to send instead of the seeded clustered recipe
 * @param json where to write every figure as JSON
 * @param svg where to write the chart
 * @param queueCapacity the in-process server's admission queue, 0 = the scenario's default
 * @param workers the in-process server's index workers, 0 = one per core
 * @param seed data seed
 * @param metrics the in-process server's metrics: true = Prometheus, false = a no-op registry
 * @param consolidation the in-process server's consolidation worker: on, off, or compare (the
 *     scenario runs four times on fresh servers, off / on / off / on)
 * @param tls the in-process server's gRPC and HTTP doors speak TLS (a fresh self-signed pair)
 * @param auth the in-process server requires tokens and the SDK sends its admin token (gRPC door)
 * @param indexShare the in-process server's index share (0 = the engine's default)
 * @param serverWarmup the in-process server's warm-up before it listens (ZERO = none)
 */
record LoadOptions(
    String scenario,
    String target,
    String door,
    String httpTarget,
    int batch,
    int episodes,
    Duration duration,
    Duration warmup,
    int dimension,
    double rate,
    int streams,
    int spaces,
    Path fvecs,
    Path json,
    Path svg,
    int queueCapacity,
    int workers,
    long seed,
    boolean metrics,
    String consolidation,
    boolean tls,
    boolean auth,
    double indexShare,
    Duration serverWarmup) {

  static final String USAGE =
      """
      usage: ./engram bench load SCENARIO [options]
        SCENARIO: burst      as fast as possible, batched: accepted/s until the first backpressure
                  sustained  fixed rate (default: half the sustainable rate): ack, visibility, index
                             lag and recall latencies, recall@10
                  overload   2x the sustainable rate: first backpressure, resends, heap, exactly-once
                  mixed      several streams on several spaces, observing and recalling together
                  recall     k=10 recall latency, gRPC unary Recall and REST POST /v1/spaces/{id}/recall
                             alternating on the same space (--episodes stored first)
                  associative  k=10 gRPC recall latency, SIMILARITY and ASSOCIATIVE alternating on
                             the same space (--episodes stored and consolidated first), while
                             new episodes stream in at --rate (default: half the sustainable rate)
      options:
        --door grpc|ws        the stream door: gRPC through the Java SDK, or the WebSocket
                              /v1/stream (JSON frames); default grpc
        --batch N             most observations per stream message, both doors (default 256)
        --episodes N          recall: episodes stored before the recalls (default 20000)
        --target host:port    a running server (default: start one in-process with HTTP on a free
                              port, temp data dir)
        --http host:port      the running server's HTTP door, for ws and recall (default: the
                              --target host, port 7432)
        --duration 30s        measured phase (s, ms or m suffix)
        --warmup 5s           first part of the phase left out of latency figures (JIT warm-up)
        --dim 384             vector dimension
        --rate N              observations/s offered, all streams together (default: calibrated)
        --streams N           concurrent streams (mixed: 4, else 1)
        --spaces N            memory spaces (mixed: 2, else 1)
        --fvecs FILE          vectors from an .fvecs file instead of the seeded clustered recipe
        --json FILE           write every figure as JSON
        --svg FILE            write a chart of throughput and latency per second
        --queue-capacity N    in-process server: admission queue (burst: 250000, else 10000)
        --metrics on|off      in-process server: Prometheus metrics (on) or a no-op registry (off),
                              to measure what metrics cost
        --tls on|off          in-process server: TLS on both doors with a fresh self-signed pair
                              (default off), to measure what TLS costs (gRPC door)
        --auth on|off         in-process server: tokens required, the SDK sends the admin token
                              (default off), to measure what authentication costs (gRPC door only)
        --workers N           in-process server: index workers (default: one per core)
        --index-share F       in-process server: share of time index workers keep indexing while
                              accepts are in flight, 0 < F <= 1 (default: the server's, 1 =
                              never yield, the behaviour before the policy)
        --server-warmup S     in-process server: warm-up before it listens, in seconds (default 3,
                              as serve; 0 = none, to see a cold start)
        --consolidation on|off|compare  in-process server: the consolidation worker (default on);
                              compare runs the scenario four times on fresh servers: off, on,
                              off, on
        --seed N              data seed (default 42)\
      """;

  static LoadOptions parse(String[] args) {
    if (args.length == 0 || args[0].startsWith("-")) {
      throw new IllegalArgumentException(
          "name a scenario: burst, sustained, overload, mixed, recall or associative");
    }
    String scenario = args[0];
    if (!scenario.matches("burst|sustained|overload|mixed|recall|associative")) {
      throw new IllegalArgumentException(
          "unknown scenario '"
              + scenario
              + "': use burst, sustained, overload, mixed, recall or associative");
    }
    boolean mixed = scenario.equals("mixed");
    String target = null;
    String door = "grpc";
    String httpTarget = null;
    int batch = 256;
    int episodes = 20_000;
    Duration duration = Duration.ofSeconds(scenario.equals("overload") ? 20 : 30);
    Duration warmup = Duration.ofSeconds(5);
    int dim = 384;
    double rate = 0;
    int streams = mixed ? 4 : 1;
    int spaces = mixed ? 2 : 1;
    Path fvecs = null;
    Path json = null;
    Path svg = null;
    int queue = 0;
    int workers = 0;
    long seed = 42;
    boolean metrics = true;
    String consolidation = "on";
    boolean tls = false;
    boolean auth = false;
    double indexShare = 0;
    Duration serverWarmup = Duration.ofSeconds(3);
    for (int i = 1; i < args.length; i++) {
      String flag = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(flag + " needs a value");
      }
      String v = args[++i];
      switch (flag) {
        case "--target" -> target = v;
        case "--door" -> {
          if (!v.equals("grpc") && !v.equals("ws")) {
            throw new IllegalArgumentException("--door must be grpc or ws, got " + v);
          }
          door = v;
        }
        case "--http" -> httpTarget = v;
        case "--batch" -> batch = positive(flag, v, 4096);
        case "--episodes" -> episodes = positive(flag, v, 10_000_000);
        case "--duration" -> duration = duration(v);
        case "--warmup" -> warmup = duration(v);
        case "--dim" -> dim = positive(flag, v, 4096);
        case "--rate" -> {
          rate = Double.parseDouble(v);
          if (!(rate > 0)) {
            throw new IllegalArgumentException("--rate must be positive, got " + v);
          }
        }
        case "--streams" -> streams = positive(flag, v, 256);
        case "--spaces" -> spaces = positive(flag, v, 256);
        case "--fvecs" -> fvecs = Path.of(v);
        case "--json" -> json = Path.of(v);
        case "--svg" -> svg = Path.of(v);
        case "--queue-capacity" -> queue = positive(flag, v, Integer.MAX_VALUE);
        case "--workers" -> workers = positive(flag, v, 1024);
        case "--seed" -> seed = Long.parseLong(v);
        case "--metrics" ->
            metrics =
                switch (v) {
                  case "on" -> true;
                  case "off" -> false;
                  default ->
                      throw new IllegalArgumentException("--metrics must be on or off, got " + v);
                };
        case "--consolidation" -> {
          if (!v.matches("on|off|compare")) {
            throw new IllegalArgumentException(
                "--consolidation must be on, off or compare, got " + v);
          }
          consolidation = v;
        }
        case "--tls" ->
            tls =
                switch (v) {
                  case "on" -> true;
                  case "off" -> false;
                  default ->
                      throw new IllegalArgumentException("--tls must be on or off, got " + v);
                };
        case "--auth" ->
            auth =
                switch (v) {
                  case "on" -> true;
                  case "off" -> false;
                  default ->
                      throw new IllegalArgumentException("--auth must be on or off, got " + v);
                };
        case "--index-share" -> {
          try {
            indexShare = Double.parseDouble(v);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--index-share must be a number, got " + v, e);
          }
          if (!(indexShare > 0 && indexShare <= 1)) {
            throw new IllegalArgumentException("--index-share must be in (0, 1], got " + v);
          }
        }
        case "--server-warmup" -> serverWarmup = duration(v);
        default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
      }
    }
    return new LoadOptions(
        scenario,
        target,
        door,
        httpTarget,
        batch,
        episodes,
        duration,
        warmup,
        dim,
        rate,
        streams,
        spaces,
        fvecs,
        json,
        svg,
        queue,
        workers,
        seed,
        metrics,
        consolidation,
        tls,
        auth,
        indexShare,
        serverWarmup);
  }

  private static int positive(String flag, String v, int max) {
    int n;
    try {
      n = Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " must be a number, got '" + v + "'", e);
    }
    if (n < 1 || n > max) {
      throw new IllegalArgumentException(flag + " must be 1.." + max + ", got " + v);
    }
    return n;
  }

  static Duration duration(String v) {
    try {
      if (v.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
      }
      if (v.endsWith("s")) {
        return Duration.ofMillis(
            (long) (Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
      }
      if (v.endsWith("m")) {
        return Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)) * 60);
      }
      return Duration.ofSeconds(Long.parseLong(v));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--duration must look like 30s, 500ms or 2m, got " + v, e);
    }
  }
}
