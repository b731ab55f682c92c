package dev.engram.server.cli;

import dev.engram.core.EngramConfig;
import dev.engram.core.embed.Embedders;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * The {@code engram} command line: {@code engram serve [options]}.
 *
 * <p>Thread-safety: runs on the main thread; the SIGTERM hook calls {@link EngramServer#shutdown}.
 */
public final class Main {
  static final String USAGE =
      """
      usage: engram serve [--grpc-port N] [--http-port N | --no-http] [--data-dir DIR]
                          [--fsync always|interval|never] [--snapshot-interval SECONDS]
                          [--queue-capacity N] [--workers N] [--max-message-bytes N]

        --grpc-port N        gRPC port (default 50051; 0 picks a free port)
        --http-port N        HTTP port: REST under /v1, WebSocket stream at /v1/stream, console at /
                             (default 7432; 0 picks a free port; -1 turns HTTP off)
        --no-http            the same as --http-port -1
        --data-dir DIR       data directory (default ./engram-data)
        --fsync MODE         always: ack after fsync; interval (default): ack after the OS has
                             the write, fsync every 100 ms; never: no log (tests, benchmarks)
        --snapshot-interval S  seconds between graph snapshots (default 300)
        --queue-capacity N   admission queue capacity in episodes (default 10000)
        --workers N          index worker threads (default: available processors)
        --max-message-bytes N  largest message the server reads and largest recall answer it
                             writes, in bytes (default 4194304 = 4 MiB, gRPC's default; 16384 to
                             1073741824); advertised to stream clients, which split batches to fit
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
    EngramServer server;
    try {
      server =
          EngramServer.start(
              options.grpcPort(),
              HttpOptions.onPort(options.httpPort()),
              options.storage(),
              options.engineConfig());
    } catch (EngramException e) {
      err.println("engram: " + e.getMessage());
      return 1;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "engram-shutdown"));
    out.printf(
        "Engram listening: gRPC on port %d, %s, data in %s (queue %d, %d index workers)%n",
        server.grpcPort(),
        server.httpPort() == HttpOptions.DISABLED
            ? "HTTP off"
            : "HTTP on port %d (console http://localhost:%d/)"
                .formatted(server.httpPort(), server.httpPort()),
        options.dataDir().toAbsolutePath(),
        options.engineConfig().queueCapacity(),
        options.engineConfig().workers());
    out.flush();
    server.awaitTermination();
    return 0;
  }

  /** The options of {@code engram serve}, each checked as it is parsed. */
  record ServeOptions(
      int grpcPort, int httpPort, StorageConfig storage, EngramConfig engineConfig) {

    Path dataDir() {
      return storage.dataDir();
    }

    static ServeOptions parse(List<String> args) {
      int port = 50051;
      int httpPort = HttpOptions.DEFAULT_PORT;
      Path dataDir = Path.of("engram-data");
      FsyncPolicy fsync = FsyncPolicy.INTERVAL;
      Duration snapshotInterval = StorageConfig.DEFAULT_SNAPSHOT_INTERVAL;
      EngramConfig.Builder engine = EngramConfig.builder().embedders(Embedders.discover());
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
          case "--queue-capacity" -> engine.queueCapacity(intValue(option, rest, 10, 100_000_000));
          case "--workers" -> engine.workers(intValue(option, rest, 1, 1024));
          case "--max-message-bytes" ->
              engine.maxMessageBytes(
                  intValue(
                      option,
                      rest,
                      MessageLimits.MIN_MESSAGE_BYTES,
                      MessageLimits.MAX_MESSAGE_BYTES));
          default -> throw new IllegalArgumentException("unknown option '" + option + "'");
        }
      }
      StorageConfig storage =
          StorageConfig.of(dataDir).withFsync(fsync).withSnapshotInterval(snapshotInterval);
      return new ServeOptions(port, httpPort, storage, engine.build());
    }

    /** Like {@link #intValue}, but "-1" is a value here, not an option. */
    private static int httpPortValue(String option, Deque<String> rest) {
      if (!rest.isEmpty() && rest.peek().equals("-1")) {
        rest.pop();
        return HttpOptions.DISABLED;
      }
      return intValue(option, rest, 0, 65535);
    }

    private static String value(String option, Deque<String> rest) {
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
