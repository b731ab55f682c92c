package dev.engram.bench;

import dev.engram.bench.load.LoadBench;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;

/**
 * Entry point of {@code ./engram bench}: dispatches to a benchmark by its first argument.
 *
 * <pre>
 *   ./engram bench load SCENARIO [options]   the gRPC stream load generator (dev.engram.bench.load)
 *   ./engram bench index [options]           the vector index benchmark (dev.engram.bench.index)
 *   ./engram bench durability [options]      the durability benchmark (dev.engram.bench.durability)
 * </pre>
 */
public final class Bench {
  private Bench() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
      usage();
      System.exit(args.length == 0 ? 2 : 0);
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "load" -> System.exit(LoadBench.run(rest));
      case "index" -> runByName("dev.engram.bench.index.IndexBench", "index", rest);
      case "durability" ->
          runByName("dev.engram.bench.durability.DurabilityBench", "durability", rest);
      default -> {
        System.err.println("bench: unknown benchmark '" + args[0] + "'");
        usage();
        System.exit(2);
      }
    }
  }

  /** By name, so this entry point builds whichever benchmarks a branch has. */
  private static void runByName(String className, String name, String[] rest) throws Exception {
    Class<?> bench;
    try {
      bench = Class.forName(className);
    } catch (ClassNotFoundException e) {
      System.err.println(name + " benchmark not built");
      System.exit(2);
      return;
    }
    try {
      bench.getMethod("main", String[].class).invoke(null, (Object) rest);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  private static void usage() {
    System.err.println(
        """
        usage: ./engram bench <benchmark> [options]
          load SCENARIO [options]   gRPC stream load generator; SCENARIO: burst | sustained | overload | mixed
                                    (./engram bench load --help lists the options)
          index [options]           vector index benchmark
          durability [options]      durability benchmark\
        """);
  }
}
