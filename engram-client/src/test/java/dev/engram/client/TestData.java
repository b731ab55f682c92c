package dev.engram.client;

import dev.engram.proto.v1.Episode;
import java.util.Random;

/** Seeded test vectors and episodes. */
final class TestData {
  private TestData() {}

  /** A unit vector drawn from {@code random}. */
  static float[] unitVector(Random random, int dimension) {
    float[] v = new float[dimension];
    double norm = 0;
    for (int i = 0; i < dimension; i++) {
      v[i] = (float) random.nextGaussian();
      norm += v[i] * v[i];
    }
    float inv = (float) (1 / Math.sqrt(norm));
    for (int i = 0; i < dimension; i++) {
      v[i] *= inv;
    }
    return v;
  }

  static Episode episode(String id, float[] embedding, String content) {
    Episode.Builder b = Episode.newBuilder().setId(id).setContent(content).setConfidence(1f);
    for (float f : embedding) {
      b.addEmbedding(f);
    }
    return b.build();
  }
}
