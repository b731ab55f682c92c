package dev.engram.server.cli;

import dev.engram.core.EngramConfig;
import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.embed.Embedders;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.server.AccessOptions;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.kafka.KafkaNode;
import dev.engram.server.kafka.KafkaOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import dev.engram.server.tls.SelfSignedCert;
import dev.engram.server.tls.TlsException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The {@code engram} command line: {@code engram serve [options]} and {@code engram cert}.
 *
 * <p>Thread-safety: runs on the main thread; the SIGTERM hook calls {@link EngramServer#shutdown}.
 */
public final class Main {
  /** {@code serve --warmup}'s default: enough for C2 to compile the kernels on two busy cores. */
  static final int DEFAULT_WARMUP_SECONDS = 3;

  static final String USAGE =
      """
      usage: engram serve [--grpc-port N] [--http-port N | --no-http] [--data-dir DIR]
                          [--fsync always|interval|never] [--snapshot-interval SECONDS]
                          [--payload-cache-mb N]
                          [--queue-capacity N] [--workers N] [--index-share F]
                          [--warmup SECONDS] [--max-message-bytes N]
                          [--consolidation on|off] [--max-spaces N]
                          [--max-streams-per-token N] [--token-rate N]
                          [--auth on|off] [--admin-token-file PATH]
                          [--bind ADDR] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
                          [--allow-plaintext]
                          [--kafka-bootstrap HOST:PORT --kafka-topic T [--kafka-group G]
                           [--node-id N] [--advertise HOST:PORT] [--kafka-auto-create DIM[:METRIC]]
                           [--kafka-standby] [--kafka-session-timeout-ms MS]]
             engram cert [--out DIR] [--host NAME...]

        --grpc-port N        gRPC port (default 50051; 0 picks a free port)
        --http-port N        HTTP port: REST under /v1, WebSocket stream at /v1/stream, console at /
                             (default 7432; 0 picks a free port; -1 turns HTTP off)
        --no-http            the same as --http-port -1
        --data-dir DIR       data directory (default ./engram-data)
        --fsync MODE         always: ack after fsync; interval (default): ack after the OS has
                             the write, fsync every 100 ms; never: no log (tests, benchmarks)
        --snapshot-interval S  seconds between graph snapshots (default 300)
        --payload-cache-mb N  heap for cached episode content and metadata read back from the
                             data directory, all spaces together (default 256; 0: no cache)
        --queue-capacity N   admission queue capacity in episodes (default 10000)
        --workers N          index worker threads (default: available processors);
                             --index-workers N is the same option
        --index-share F      share of time each index worker keeps indexing while accepts are in
                             flight and the queue is below half full, 0 < F <= 1 (default 1:
                             indexing never yields; e.g. 0.25); see docs/architecture.md
        --warmup SECONDS     warm the distance kernels and the accept path for up to this long
                             before the server listens (default 3; 0: no warm-up)
        --max-message-bytes N  largest message the server reads and largest recall answer it
                             writes, in bytes (default 4194304 = 4 MiB, gRPC's default; 16384 to
                             1073741824); advertised to stream clients, which split batches to fit
        --auth on|off        on (default): every call needs a token (Authorization: Bearer ...);
                             off: anyone who can connect may do anything; allowed only with a
                             loopback --bind, and says so at start
        --admin-token-file PATH  the admin token (creates spaces, issues tokens) is the content of
                             this file; without it one is generated at the first start and printed
                             once (only its hash is kept)
        --consolidation on|off  the background consolidation worker (default on): association
                             edges, near-duplicate merges, confidence reinforcement, the
                             consolidated_through watermark; off: ASSOCIATIVE recall uses seeds only
        --max-spaces N       most memory spaces the server holds (default 10000); one more is
                             refused with RESOURCE_EXHAUSTED / HTTP 429
        --max-streams-per-token N  most streams open at once with one token (default 64; 0: no
                             limit); one more ends with RESOURCE_EXHAUSTED. Needs --auth on
        --token-rate N       most observations per second per token, burst of one second's worth
                             (default 0: no limit); a stream is told OVERLOADED and to resend after
                             retry_after_ms, unary/REST get RESOURCE_EXHAUSTED / 429 with retry
                             info. Needs --auth on
        --bind ADDR          address both doors listen on (default 127.0.0.1; 0.0.0.0 = every
                             interface, which needs TLS or --allow-plaintext)
        --tls-cert FILE      PEM certificate chain (leaf first): gRPC and HTTP speak only TLS
        --tls-key FILE       PEM PKCS#8 private key of that certificate
        --tls-client-ca FILE PEM CA certificates: clients must present a certificate from them (mTLS)
        --allow-plaintext    allow plaintext on a non-loopback --bind (a trusted network only)
        --kafka-bootstrap HOST:PORT  scale-out (docs/scale-out.md): consume episodes from Kafka
                             as a member of a consumer group; record key = space id, value =
                             engram.v1.Episode (protobuf, or JSON with content-type:
                             application/json); offsets are committed only once durable
        --kafka-topic T      the episode topic; bad records go to T.dlq (default engram)
        --kafka-group G      the consumer group the nodes share (default engram)
        --node-id N          this node's name in the group (default: host name and gRPC port)
        --advertise HOST:PORT  the address other nodes reach this node at (default
                             localhost:<gRPC port>)
        --kafka-auto-create DIM[:METRIC]  create an unknown space with this dimension and metric
                             (cosine, dot, l2) instead of dead-lettering its records
        --kafka-standby      also follow the partitions this node does not own, so it takes them
                             over without replaying the topic
        --kafka-session-timeout-ms MS  how long the group waits for a silent node before its
                             partitions move (default 10000; a node that stops cleanly leaves at once)

      engram cert writes cert.pem and key.pem, a self-signed pair for development:
        --out DIR            where (default ./engram-tls)
        --host NAME          a DNS name or IP address it is valid for (repeatable; default
                             localhost, 127.0.0.1 and ::1)
      """;

  private Main() {}

  public static void main(String[] args) throws Exception {
    int code = run(List.of(args), System.out, System.err);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs a command; returns the process exit code (serve returns when the server stops). */
  static int run(List<String> args, PrintStream out, PrintStream err)
      throws IOException, InterruptedException {
    if (args.isEmpty()) {
      err.print(USAGE);
      return 2;
    }
    if (args.getFirst().equals("cert")) {
      return cert(args.subList(1, args.size()), out, err);
    }
    if (!args.getFirst().equals("serve")) {
      err.println("engram: unknown command '" + args.getFirst() + "'");
      err.print(USAGE);
      return 2;
    }
    if (args.contains("--help") || args.contains("-h")) {
      out.print(USAGE);
      return 0;
    }
    ServeOptions options;
    try {
      options = ServeOptions.parse(args.subList(1, args.size()));
    } catch (IllegalArgumentException e) {
      err.println("engram: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
    if (!options.access().auth()) {
      err.println(
          "engram: WARNING: authentication is OFF (--auth off): anyone who can connect to "
              + options.listen().bindAddress()
              + " may read, change and delete every memory space");
      err.flush();
    }
    EngramServer server;
    try {
      server =
          EngramServer.start(
              options.grpcPort(),
              HttpOptions.onPort(options.httpPort()),
              options.listen(),
              options.storage(),
              options.engineConfig(),
              EngramMetrics.prometheus(),
              options.access());
    } catch (IllegalArgumentException | TlsException e) {
      err.println("engram: " + e.getMessage());
      return 2;
    } catch (EngramException e) {
      err.println("engram: " + e.getMessage());
      return 1;
    }
    KafkaNode kafka = null;
    if (options.kafka() != null) {
      KafkaOptions k = options.kafka();
      kafka =
          KafkaNode.start(
              k.withNode(
                  k.nodeId(),
                  k.advertise() != null ? k.advertise() : "localhost:" + server.grpcPort()),
              server.engine(),
              options.dataDir(),
              server.metrics().registry());
      server.route(kafka.router());
    }
    KafkaNode consumer = kafka;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  if (consumer != null) {
                    consumer.close(); // commit and leave the group before the engine drains
                  }
                  server.shutdown();
                },
                "engram-shutdown"));
    String scheme = options.listen().tlsEnabled() ? "https" : "http";
    out.printf(
        "Engram listening: gRPC on port %d, %s, on %s (%s), data in %s (queue %d, %d index"
            + " workers, index share %.2f; warmed up in %d ms)%n",
        server.grpcPort(),
        server.httpPort() == HttpOptions.DISABLED
            ? "HTTP off"
            : "HTTP on port %d (console %s://localhost:%d/)"
                .formatted(server.httpPort(), scheme, server.httpPort()),
        options.listen().bindAddress(),
        options.listen().tlsEnabled()
            ? (options.listen().tlsClientCa() != null ? "TLS, client certificates required" : "TLS")
            : "plaintext",
        options.dataDir().toAbsolutePath(),
        options.engineConfig().queueCapacity(),
        options.engineConfig().workers(),
        options.engineConfig().indexShare(),
        server.warmup().took().toMillis());
    server
        .generatedAdminToken()
        .ifPresent(
            token ->
                out.println(
                    "Admin token (shown this once; the server keeps only its hash): " + token));
    out.flush();
    server.awaitTermination();
    return 0;
  }

  /** {@code engram cert}: writes a self-signed development pair. */
  static int cert(List<String> args, PrintStream out, PrintStream err) throws IOException {
    Path dir = Path.of("engram-tls");
    List<String> hosts = new ArrayList<>();
    Deque<String> rest = new ArrayDeque<>(args);
    try {
      while (!rest.isEmpty()) {
        String option = rest.pop();
        switch (option) {
          case "--out" -> dir = Path.of(ServeOptions.value(option, rest));
          case "--host" -> hosts.add(ServeOptions.value(option, rest));
          case "--help", "-h" -> {
            out.print(USAGE);
            return 0;
          }
          default -> throw new IllegalArgumentException("unknown option '" + option + "'");
        }
      }
    } catch (IllegalArgumentException e) {
      err.println("engram: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
    SelfSignedCert.Pair pair =
        SelfSignedCert.write(dir, hosts.isEmpty() ? SelfSignedCert.DEFAULT_HOSTS : hosts);
    out.printf(
        "wrote %s and %s (self-signed, for development, valid 365 days for %s)%n"
            + "  serve with: ./engram serve --tls-cert %s --tls-key %s%n"
            + "  clients trust %s%n",
        pair.cert(),
        pair.key(),
        String.join(", ", hosts.isEmpty() ? SelfSignedCert.DEFAULT_HOSTS : hosts),
        pair.cert(),
        pair.key(),
        pair.cert());
    return 0;
  }

  /** The options of {@code engram serve}, each checked as it is parsed. */
  record ServeOptions(
      int grpcPort,
      int httpPort,
      ListenOptions listen,
      StorageConfig storage,
      EngramConfig engineConfig,
      AccessOptions access,
      KafkaOptions kafka) {

    Path dataDir() {
      return storage.dataDir();
    }

    static ServeOptions parse(List<String> args) {
      int port = 50051;
      int httpPort = HttpOptions.DEFAULT_PORT;
      Path dataDir = Path.of("engram-data");
      FsyncPolicy fsync = FsyncPolicy.INTERVAL;
      Duration snapshotInterval = StorageConfig.DEFAULT_SNAPSHOT_INTERVAL;
      long payloadCacheBytes = StorageConfig.DEFAULT_PAYLOAD_CACHE_BYTES;
      EngramConfig.Builder engine =
          EngramConfig.builder()
              .embedders(Embedders.discover())
              .warmup(Duration.ofSeconds(DEFAULT_WARMUP_SECONDS));
      boolean auth = true;
      Path adminTokenFile = null;
      String bind = ListenOptions.DEFAULT_BIND;
      Path tlsCert = null;
      Path tlsKey = null;
      Path tlsClientCa = null;
      boolean allowPlaintext = false;
      String kafkaBootstrap = null;
      String kafkaTopic = "engram";
      String kafkaGroup = "engram";
      String nodeId = null;
      String advertise = null;
      KafkaOptions.AutoCreate autoCreate = null;
      boolean standby = false;
      int sessionTimeoutMs = KafkaOptions.DEFAULT_SESSION_TIMEOUT_MS;
      Deque<String> rest = new ArrayDeque<>(args);
      while (!rest.isEmpty()) {
        String option = rest.pop();
        switch (option) {
          case "--grpc-port" -> port = intValue(option, rest, 0, 65535);
          case "--http-port" -> httpPort = httpPortValue(option, rest);
          case "--no-http" -> httpPort = HttpOptions.DISABLED;
          case "--data-dir" -> dataDir = Path.of(value(option, rest));
          case "--fsync" -> fsync = FsyncPolicy.parse(value(option, rest));
          case "--snapshot-interval" ->
              snapshotInterval = Duration.ofSeconds(intValue(option, rest, 1, 86_400));
          case "--payload-cache-mb" ->
              payloadCacheBytes = (long) intValue(option, rest, 0, 1_048_576) << 20;
          case "--queue-capacity" -> engine.queueCapacity(intValue(option, rest, 10, 100_000_000));
          case "--workers", "--index-workers" -> engine.workers(intValue(option, rest, 1, 1024));
          case "--index-share" -> engine.indexShare(shareValue(option, rest));
          case "--warmup" -> engine.warmup(Duration.ofSeconds(intValue(option, rest, 0, 600)));
          case "--max-message-bytes" ->
              engine.maxMessageBytes(
                  intValue(
                      option,
                      rest,
                      MessageLimits.MIN_MESSAGE_BYTES,
                      MessageLimits.MAX_MESSAGE_BYTES));
          case "--auth" -> auth = onOff(option, value(option, rest));
          case "--admin-token-file" -> adminTokenFile = Path.of(value(option, rest));
          case "--consolidation" ->
              engine.consolidation(
                  switch (value(option, rest)) {
                    case "on" -> ConsolidationConfig.defaults();
                    case "off" -> ConsolidationConfig.off();
                    default ->
                        throw new IllegalArgumentException("--consolidation takes on or off");
                  });
          case "--max-spaces" -> engine.maxSpaces(intValue(option, rest, 1, 100_000_000));
          case "--max-streams-per-token" ->
              engine.maxStreamsPerToken(intValue(option, rest, 0, 1_000_000));
          case "--token-rate" -> engine.tokenRate(intValue(option, rest, 0, 1_000_000_000));
          case "--bind" -> bind = value(option, rest);
          case "--tls-cert" -> tlsCert = Path.of(value(option, rest));
          case "--tls-key" -> tlsKey = Path.of(value(option, rest));
          case "--tls-client-ca" -> tlsClientCa = Path.of(value(option, rest));
          case "--allow-plaintext" -> allowPlaintext = true;
          case "--kafka-bootstrap" -> kafkaBootstrap = value(option, rest);
          case "--kafka-topic" -> kafkaTopic = value(option, rest);
          case "--kafka-group" -> kafkaGroup = value(option, rest);
          case "--node-id" -> nodeId = value(option, rest);
          case "--advertise" -> advertise = value(option, rest);
          case "--kafka-auto-create" ->
              autoCreate = KafkaOptions.AutoCreate.parse(value(option, rest));
          case "--kafka-standby" -> standby = true;
          case "--kafka-session-timeout-ms" ->
              sessionTimeoutMs = intValue(option, rest, 1000, 300_000);
          default -> throw new IllegalArgumentException("unknown option '" + option + "'");
        }
      }
      ListenOptions listen = new ListenOptions(bind, tlsCert, tlsKey, tlsClientCa, allowPlaintext);
      StorageConfig storage =
          StorageConfig.of(dataDir)
              .withFsync(fsync)
              .withSnapshotInterval(snapshotInterval)
              .withPayloadCacheBytes(payloadCacheBytes);
      String adminToken = null;
      if (adminTokenFile != null) {
        if (!auth) {
          throw new IllegalArgumentException("--admin-token-file needs --auth on");
        }
        try {
          adminToken = Files.readString(adminTokenFile).strip();
        } catch (IOException e) {
          throw new IllegalArgumentException(
              "--admin-token-file: cannot read " + adminTokenFile + ": " + e.getMessage());
        }
        if (adminToken.length() < 16) {
          throw new IllegalArgumentException(
              "--admin-token-file: the token must have at least 16 characters");
        }
      }
      KafkaOptions kafka = null;
      if (kafkaBootstrap != null) {
        kafka =
            new KafkaOptions(
                kafkaBootstrap,
                kafkaTopic,
                kafkaGroup,
                nodeId != null ? nodeId : defaultNodeId(port),
                advertise,
                autoCreate,
                standby,
                sessionTimeoutMs);
      } else if (nodeId != null || advertise != null || autoCreate != null || standby) {
        throw new IllegalArgumentException(
            "--node-id, --advertise, --kafka-auto-create and --kafka-standby need --kafka-bootstrap");
      }
      return new ServeOptions(
          port,
          httpPort,
          listen,
          storage,
          engine.build(),
          new AccessOptions(auth, adminToken),
          kafka);
    }

    /** The host name and gRPC port (a random suffix for port 0), as a group member name. */
    private static String defaultNodeId(int grpcPort) {
      String host;
      try {
        host = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException e) {
        host = "engram";
      }
      String suffix =
          grpcPort == 0 ? java.util.UUID.randomUUID().toString().substring(0, 8) : "" + grpcPort;
      return (host + "-" + suffix).replaceAll("[^a-zA-Z0-9._-]", "_");
    }

    private static double shareValue(String option, Deque<String> rest) {
      String v = value(option, rest);
      double share;
      try {
        share = Double.parseDouble(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + " takes a number in (0, 1], got '" + v + "'");
      }
      if (!(share > 0 && share <= 1)) {
        throw new IllegalArgumentException(option + " takes a number in (0, 1], got " + v);
      }
      return share;
    }

    private static boolean onOff(String option, String value) {
      return switch (value) {
        case "on" -> true;
        case "off" -> false;
        default ->
            throw new IllegalArgumentException(option + " must be on or off, got '" + value + "'");
      };
    }

    /** Like {@link #intValue}, but "-1" is a value here, not an option. */
    private static int httpPortValue(String option, Deque<String> rest) {
      if (!rest.isEmpty() && rest.peek().equals("-1")) {
        rest.pop();
        return HttpOptions.DISABLED;
      }
      return intValue(option, rest, 0, 65535);
    }

    static String value(String option, Deque<String> rest) {
      if (rest.isEmpty() || rest.peek().startsWith("--")) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      return rest.pop();
    }

    private static int intValue(String option, Deque<String> rest, int min, int max) {
      String text = value(option, rest);
      int n;
      try {
        n = Integer.parseInt(text);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + " needs a number, got '" + text + "'");
      }
      if (n < min || n > max) {
        throw new IllegalArgumentException(
            "%s must be %d-%d, got %d".formatted(option, min, max, n));
      }
      return n;
    }
  }
}
