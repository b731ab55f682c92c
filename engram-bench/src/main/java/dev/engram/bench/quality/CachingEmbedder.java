package dev.engram.bench.quality;

import dev.engram.core.embed.Embedder;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An embedder that answers texts it has embedded before from a file, and asks the model only for
 * the others: the quality benchmark's server-side embedder and cue embedder, so that a second run
 * on the same data spends no time in the model. The vectors are the model's own (computed by it
 * once, stored as floats), so results do not change; the server still takes the text-only path
 * (accept, then the embed stage, then the index).
 *
 * <p>File: a sequence of (i32 length, UTF-8 text, i32 dimension, floats), big-endian; written by
 * {@link #save()} to a temporary file, then moved over the old one.
 *
 * <p>Thread-safety: safe from any thread (a concurrent map; misses may be embedded twice).
 */
final class CachingEmbedder implements Embedder {
  private final Embedder model;
  private final Path file;
  private final Map<String, float[]> vectors = new ConcurrentHashMap<>();
  private volatile int misses;

  CachingEmbedder(Embedder model, Path file) throws IOException {
    this.model = model;
    this.file = file;
    if (file != null && Files.exists(file)) {
      try (DataInputStream in =
          new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
        while (true) {
          int length;
          try {
            length = in.readInt();
          } catch (EOFException end) {
            break;
          }
          byte[] text = in.readNBytes(length);
          float[] v = new float[in.readInt()];
          for (int i = 0; i < v.length; i++) {
            v[i] = in.readFloat();
          }
          vectors.put(new String(text, java.nio.charset.StandardCharsets.UTF_8), v);
        }
      }
    }
  }

  @Override
  public String name() {
    return model.name();
  }

  @Override
  public int dimension() {
    return model.dimension();
  }

  @Override
  public List<float[]> embed(List<String> texts) {
    List<String> missing = new ArrayList<>();
    for (String t : texts) {
      if (!vectors.containsKey(t)) {
        missing.add(t);
      }
    }
    if (!missing.isEmpty()) {
      List<float[]> computed = model.embed(missing);
      for (int i = 0; i < missing.size(); i++) {
        vectors.put(missing.get(i), computed.get(i));
      }
      misses += missing.size();
    }
    List<float[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      out.add(vectors.get(t).clone());
    }
    return out;
  }

  /** How many texts went to the model. */
  int misses() {
    return misses;
  }

  /** How many vectors are cached. */
  int size() {
    return vectors.size();
  }

  /** Writes every cached vector to the file (no-op without one). */
  void save() throws IOException {
    if (file == null) {
      return;
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (DataOutputStream out =
        new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)))) {
      for (Map.Entry<String, float[]> e : vectors.entrySet()) {
        byte[] text = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(text.length);
        out.write(text);
        out.writeInt(e.getValue().length);
        for (float x : e.getValue()) {
          out.writeFloat(x);
        }
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
