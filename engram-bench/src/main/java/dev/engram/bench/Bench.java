package dev.engram.bench;

import dev.engram.bench.durability.DurabilityBench;
import dev.engram.bench.index.IndexBench;
import dev.engram.bench.index.ScalingBench;
import dev.engram.bench.load.LoadBench;
import dev.engram.bench.quality.EmbedBench;
import dev.engram.bench.quality.QualityBench;
import dev.engram.bench.text.TextBench;
import java.util.Arrays;

/**
 * Entry point of {@code ./engram bench}: dispatches to a benchmark by its first argument.
 *
 * <pre>
 *   ./engram bench SCENARIO [options]        the gRPC stream load generator: burst, sustained,
 *   ./engram bench load SCENARIO [options]   overload or mixed (dev.engram.bench.load)
 *   ./engram bench index [options]           the vector index benchmark (dev.engram.bench.index)
 *   ./engram bench scaling [options]         index build and search throughput per thread count
 *   ./engram bench durability [options]      the durability benchmark (dev.engram.bench.durability)
 *   ./engram bench quality --data FILE.jsonl  memory quality: evidence hit@k and MRR per recall mode
 *   ./engram bench embed [options]           server-side embedder throughput (sentences/s)
 *   ./engram bench text recall|restart [n]   text and hybrid recall (dev.engram.bench.text)
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
      case "burst", "sustained", "overload", "mixed" -> System.exit(LoadBench.run(args));
      case "index" -> IndexBench.main(rest);
      case "scaling" -> ScalingBench.main(rest);
      case "durability" -> DurabilityBench.main(rest);
      case "quality" -> System.exit(QualityBench.run(rest));
      case "embed" -> System.exit(EmbedBench.run(rest));
      case "text" -> TextBench.main(rest);
      case "memory" -> dev.engram.bench.memory.MemoryBench.main(rest);
      default -> {
        System.err.println("bench: unknown benchmark '" + args[0] + "'");
        usage();
        System.exit(2);
      }
    }
  }

  private static void usage() {
    System.err.println(
        """
        usage: ./engram bench <benchmark> [options]
          [load] SCENARIO [options] gRPC stream load generator; SCENARIO: burst | sustained | overload | mixed
                                    (./engram bench load --help lists the options)
          index [options]           vector index benchmark (docs/benchmarks.md)
          scaling [options]         index build/search throughput per thread count (docs/benchmarks.md)
          durability accept|restart durability benchmark (docs/benchmarks.md)
          quality --data FILE.jsonl [--mode m1,m2] [--out FILE.json]
                                    memory quality per recall mode (docs/benchmarks.md)
          embed [--data FILE.jsonl] [--sentences N] [--batch N]
                                    server-side embedder throughput, sentences/s\
          text recall|restart [n] [dim] text and hybrid recall latency, text rebuild (docs/benchmarks.md)\
        """);
  }
}
