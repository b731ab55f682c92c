package dev.engram.bench.quality;

import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code ./engram bench embed}: throughput of the server-side embedder (all-minilm-l6-v2), in
 * sentences per second, one sentence per call and in batches, on one calling thread (ONNX Runtime
 * may use more cores inside a call). Sentences come from a quality-benchmark file's episodes
 * ({@code --data}) or are generated (seeded) from a small vocabulary.
 */
public final class EmbedBench {
  private static final String[] WORDS = {
    "we",
    "went",
    "hiking",
    "last",
    "weekend",
    "my",
    "sister",
    "adopted",
    "a",
    "puppy",
    "and",
    "the",
    "kids",
    "loved",
    "painting",
    "at",
    "museum",
    "I",
    "started",
    "learning",
    "cello",
    "after",
    "work",
    "our",
    "flight",
    "was",
    "cancelled",
    "because",
    "of",
    "storm",
    "she",
    "finished",
    "her",
    "first",
    "marathon",
    "in",
    "under",
    "four",
    "hours",
    "with",
    "friends"
  };

  private EmbedBench() {}

  /** Runs the benchmark; returns the exit status. */
  public static int run(String[] args) throws Exception {
    Path data = null;
    int count = 512;
    int batch = 32;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--data" -> data = Path.of(args[++i]);
        case "--sentences" -> count = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        default -> {
          System.err.println(
              "usage: ./engram bench embed [--data FILE.jsonl] [--sentences N] [--batch N]");
          return 2;
        }
      }
    }
    List<String> sentences = data == null ? generated(count) : fromData(data, count);
    Embedder embedder = Embedders.discover().require(QualityBench.EMBEDDER);
    embedder.embed(sentences.subList(0, Math.min(32, sentences.size()))); // load + warm up
    double avgChars = sentences.stream().mapToInt(String::length).average().orElse(0);

    long start = System.nanoTime();
    for (String s : sentences) {
      embedder.embed(List.of(s));
    }
    double single = sentences.size() / ((System.nanoTime() - start) / 1e9);

    start = System.nanoTime();
    for (int from = 0; from < sentences.size(); from += batch) {
      embedder.embed(sentences.subList(from, Math.min(sentences.size(), from + batch)));
    }
    double batched = sentences.size() / ((System.nanoTime() - start) / 1e9);

    System.out.printf(
        "%s, %d sentences (%.0f characters on average), %d cores:%n",
        embedder.name(), sentences.size(), avgChars, Runtime.getRuntime().availableProcessors());
    System.out.printf("  one per call:      %8.1f sentences/s%n", single);
    System.out.printf("  batches of %-4d    %8.1f sentences/s%n", batch, batched);
    return 0;
  }

  private static List<String> generated(int count) {
    SplittableRandom random = new SplittableRandom(42);
    List<String> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      StringBuilder b = new StringBuilder();
      int words = 8 + random.nextInt(20);
      for (int w = 0; w < words; w++) {
        b.append(w == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
      }
      out.add(b.append('.').toString());
    }
    return out;
  }

  private static List<String> fromData(Path data, int count) throws Exception {
    List<String> out = new ArrayList<>();
    for (QualityBench.Conversation c : QualityBench.read(data)) {
      for (QualityBench.Turn t : c.turns()) {
        if (out.size() == count) {
          return out;
        }
        out.add(t.content());
      }
    }
    return out;
  }
}
