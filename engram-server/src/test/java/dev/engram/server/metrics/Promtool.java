package dev.engram.server.metrics;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs Prometheus's {@code promtool} for tests. Where it is missing the calling test is skipped
 * with the reason, or fails when {@code ENGRAM_REQUIRE_TOOLS=1} (CI sets it: there a skipped check
 * would be a silent hole).
 */
public final class Promtool {
  /** The outcome of one promtool run. */
  public record Result(int exitCode, String output) {}

  private Promtool() {}

  /** The repository root (tests run in the module directory). */
  public static Path repoRoot() {
    Path here = Path.of("").toAbsolutePath();
    return Files.isDirectory(here.resolve("deploy")) ? here : here.getParent();
  }

  /** promtool's path; skips or fails the test when it is not installed. */
  public static String require() {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(File.pathSeparator)) {
      Path candidate = Path.of(dir, "promtool");
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    String why =
        "promtool is not installed (Debian/Ubuntu: apt-get install -y prometheus); the"
            + " Prometheus rule and metric checks need it";
    if ("1".equals(System.getenv("ENGRAM_REQUIRE_TOOLS"))) {
      fail(why + " and ENGRAM_REQUIRE_TOOLS=1 requires every check to run");
    }
    Assumptions.abort(why);
    return null; // unreachable
  }

  /** Runs {@code promtool args...} in the repository root, with {@code stdin} as its input. */
  public static Result run(String stdin, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(require());
    command.addAll(List.of(args));
    Process p =
        new ProcessBuilder(command)
            .directory(repoRoot().toFile())
            .redirectErrorStream(true)
            .start();
    try (var in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("promtool " + args[0] + " did not finish in 60 s");
    }
    return new Result(p.exitValue(), out);
  }
}
