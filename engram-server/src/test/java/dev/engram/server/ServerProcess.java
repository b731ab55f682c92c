package dev.engram.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code engram serve} process for tests that need one (kill -9, secrets in the output): the
 * test's own JVM and class path, free ports, stdout kept and stderr in a file. {@link #start}
 * returns once the server says it is listening.
 */
public final class ServerProcess {
  private static final Pattern LISTENING =
      Pattern.compile("Engram listening: gRPC on port (\\d+), HTTP on port (\\d+)");

  private final Process process;
  private final StringBuffer stdout;
  private final Path stderr;
  private final int grpcPort;
  private final int httpPort;

  private ServerProcess(
      Process process, StringBuffer stdout, Path stderr, int grpcPort, int httpPort) {
    this.process = process;
    this.stdout = stdout;
    this.stderr = stderr;
    this.grpcPort = grpcPort;
    this.httpPort = httpPort;
  }

  /**
   * Starts {@code serve --grpc-port 0 --http-port 0 --data-dir DATA --workers 1} plus {@code
   * options}, with {@code -Xmx} as given; stderr goes to {@code stderr}.
   */
  public static ServerProcess start(Path data, Path stderr, String maxHeap, String... options)
      throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command =
        new ArrayList<>(
            List.of(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "--add-modules",
                "jdk.incubator.vector",
                "-Xmx" + maxHeap,
                "-cp",
                System.getProperty("java.class.path"),
                "dev.engram.server.cli.Main",
                "serve",
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--data-dir",
                data.toString(),
                "--workers",
                "1"));
    command.addAll(List.of(options));
    Process process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    StringBuffer out = new StringBuffer();
    CompletableFuture<int[]> ports = new CompletableFuture<>();
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    Thread.ofPlatform()
        .daemon()
        .start(
            () -> {
              try {
                String line;
                while ((line = reader.readLine()) != null) {
                  out.append(line).append('\n');
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    ports.complete(
                        new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
                  }
                }
                ports.completeExceptionally(new IOException("server exited before listening"));
              } catch (IOException e) {
                ports.completeExceptionally(e);
              }
            });
    int[] p;
    try {
      p = ports.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw new AssertionError("server did not start; stdout so far:\n" + out, e);
    }
    return new ServerProcess(process, out, stderr, p[0], p[1]);
  }

  public int grpcPort() {
    return grpcPort;
  }

  public int httpPort() {
    return httpPort;
  }

  /** Everything the server printed on stdout so far. */
  public String stdout() {
    return stdout.toString();
  }

  /** Everything the server wrote on stderr so far. */
  public String stderr() throws IOException {
    return Files.readString(stderr);
  }

  /** The operating-system process (for a test that kills it from another thread). */
  public Process process() {
    return process;
  }

  /** Waits up to {@code timeout} for a stdout line matching {@code pattern}; its first group. */
  public String awaitLine(Pattern pattern, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Matcher m = pattern.matcher(stdout);
      if (m.find()) {
        return m.group(1);
      }
      if (System.nanoTime() > deadline || !process.isAlive()) {
        throw new AssertionError("no line matching " + pattern + " in:\n" + stdout);
      }
      Thread.sleep(20);
    }
  }

  /** SIGKILL: no final snapshot, no flush. */
  public void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  /** SIGTERM (graceful shutdown), then SIGKILL if it has not ended within 30 s. */
  public void stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      kill();
    }
  }
}
