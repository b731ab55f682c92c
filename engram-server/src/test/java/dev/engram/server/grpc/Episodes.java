package dev.engram.server.grpc;

import dev.engram.proto.v1.Episode;
import java.util.SplittableRandom;

/** Test episodes with seeded random unit vectors. */
public final class Episodes {
  private Episodes() {}

  public static float[] vector(SplittableRandom random, int dimension) {
    float[] v = new float[dimension];
    double norm = 0;
    for (int i = 0; i < dimension; i++) {
      v[i] = (float) (random.nextDouble() * 2 - 1);
      norm += v[i] * v[i];
    }
    float inv = (float) (1 / Math.sqrt(norm));
    for (int i = 0; i < dimension; i++) {
      v[i] *= inv;
    }
    return v;
  }

  public static Episode episode(String id, float[] vector) {
    Episode.Builder e = Episode.newBuilder().setId(id).setContent("content of " + id);
    for (float x : vector) {
      e.addEmbedding(x);
    }
    return e.build();
  }

  static float[] embedding(Episode e) {
    float[] v = new float[e.getEmbeddingCount()];
    for (int i = 0; i < v.length; i++) {
      v[i] = e.getEmbedding(i);
    }
    return v;
  }
}
