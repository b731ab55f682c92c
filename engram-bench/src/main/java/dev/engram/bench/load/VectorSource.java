package dev.engram.bench.load;

import dev.engram.core.testdata.ClusteredVectors;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The vectors a run sends: the seeded clustered recipe ({@link ClusteredVectors}, PEERS.md) or the
 * vectors of an {@code .fvecs} file, cycled. Not thread-safe: one per producer thread.
 */
final class VectorSource {
  private final ClusteredVectors clustered;
  private final float[][] file;
  private final int dimension;
  private int next;

  private VectorSource(ClusteredVectors clustered, float[][] file, int dimension) {
    this.clustered = clustered;
    this.file = file;
    this.dimension = dimension;
  }

  static VectorSource clustered(int dimension, long seed) {
    return new VectorSource(new ClusteredVectors(dimension, seed), null, dimension);
  }

  /** Reads an {@code .fvecs} file: per vector, a little-endian int32 dimension then the floats. */
  static VectorSource fvecs(Path path, long seed) throws IOException {
    List<float[]> vectors = new ArrayList<>();
    try (DataInputStream in =
        new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(path)))) {
      byte[] header = new byte[4];
      while (in.read(header) == 4) {
        int d = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (d < 1 || d > 4096) {
          throw new IOException(
              path + ": bad vector dimension " + d + " at vector " + vectors.size());
        }
        byte[] body = in.readNBytes(4 * d);
        if (body.length != 4 * d) {
          throw new IOException(path + ": truncated at vector " + vectors.size());
        }
        float[] v = new float[d];
        ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        vectors.add(v);
      }
    }
    if (vectors.isEmpty()) {
      throw new IOException(path + ": no vectors");
    }
    float[][] all = vectors.toArray(float[][]::new);
    return new VectorSource(null, all, all[0].length);
  }

  int dimension() {
    return dimension;
  }

  float[] next() {
    if (clustered != null) {
      return clustered.next();
    }
    float[] v = file[next];
    next = (next + 1) % file.length;
    return v;
  }

  /** A query drawn like the data (clustered), or a data vector (file). */
  float[] query() {
    return clustered != null ? clustered.nextQuery() : file[(next * 7919) % file.length];
  }
}
