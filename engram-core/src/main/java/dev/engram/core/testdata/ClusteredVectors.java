package dev.engram.core.testdata;

import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Metric;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;

/**
 * Seeded clustered unit vectors, the recipe every Engram index test and benchmark uses (see
 * PEERS.md): {@code clusters} Gaussian clusters with centres N(0, I)/√d, a spread σ ~ U(0.5, 1.0)
 * per cluster and lognormal(0, 1) cluster weights; a point is {@code centre + σ·N(0, I)/√d},
 * normalised to unit length. Uniform random vectors in hundreds of dimensions make every
 * approximate index look broken; real embeddings are clustered like this.
 *
 * <p>The clusters are a function of {@code seed}; {@link #next()} and {@link #nextQuery()} draw
 * from two separate seeded streams, so the data sequence does not depend on how many queries were
 * drawn. Also holds the exact ground-truth helpers.
 *
 * <p>Thread-safety: not thread-safe; use one instance per thread (the static helpers are safe).
 */
public final class ClusteredVectors {
  private final int dimension;
  private final float[][] centres;
  private final float[] sigmas;
  private final double[] cumulativeWeights;
  private final SplittableRandom dataRandom;
  private final SplittableRandom queryRandom;
  private final float scale;

  /** The PEERS.md recipe: 1,000 clusters. */
  public ClusteredVectors(int dimension, long seed) {
    this(dimension, 1000, seed);
  }

  public ClusteredVectors(int dimension, int clusters, long seed) {
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be positive, got " + dimension);
    }
    if (clusters < 1) {
      throw new IllegalArgumentException("clusters must be positive, got " + clusters);
    }
    this.dimension = dimension;
    this.scale = (float) (1 / Math.sqrt(dimension));
    SplittableRandom random = new SplittableRandom(seed);
    centres = new float[clusters][dimension];
    sigmas = new float[clusters];
    cumulativeWeights = new double[clusters];
    double total = 0;
    for (int c = 0; c < clusters; c++) {
      for (int i = 0; i < dimension; i++) {
        centres[c][i] = (float) random.nextGaussian() * scale;
      }
      sigmas[c] = (float) (0.5 + 0.5 * random.nextDouble());
      total += Math.exp(random.nextGaussian());
      cumulativeWeights[c] = total;
    }
    for (int c = 0; c < clusters; c++) {
      cumulativeWeights[c] /= total;
    }
    dataRandom = random.split();
    queryRandom = random.split();
  }

  public int dimension() {
    return dimension;
  }

  /** The next data vector (unit length). */
  public float[] next() {
    return draw(dataRandom);
  }

  /** The next {@code n} data vectors. */
  public float[][] take(int n) {
    float[][] out = new float[n][];
    for (int i = 0; i < n; i++) {
      out[i] = next();
    }
    return out;
  }

  /** The next query vector: drawn like the data, from a separate stream. */
  public float[] nextQuery() {
    return draw(queryRandom);
  }

  /** The next {@code n} query vectors. */
  public float[][] queries(int n) {
    float[][] out = new float[n][];
    for (int i = 0; i < n; i++) {
      out[i] = nextQuery();
    }
    return out;
  }

  private float[] draw(SplittableRandom random) {
    int c = Arrays.binarySearch(cumulativeWeights, random.nextDouble());
    c = Math.min(c < 0 ? -c - 1 : c, centres.length - 1);
    float spread = sigmas[c] * scale;
    float[] centre = centres[c];
    float[] v = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      v[i] = centre[i] + spread * (float) random.nextGaussian();
    }
    return VectorMath.normalized(v);
  }

  /**
   * Exact top-{@code k} ordinals (indexes into {@code data}) for each query, best first, using all
   * available processors.
   */
  public static int[][] exactTopK(float[][] data, float[][] queries, int k, Metric metric) {
    return exactTopK(data, i -> true, queries, k, metric);
  }

  /** Exact top-{@code k} among the data ordinals that pass {@code live}. */
  public static int[][] exactTopK(
      float[][] data, IntPredicate live, float[][] queries, int k, Metric metric) {
    int[][] result = new int[queries.length][];
    IntStream.range(0, queries.length)
        .parallel()
        .forEach(q -> result[q] = exactTopK(data, live, queries[q], k, metric));
    return result;
  }

  private static int[] exactTopK(
      float[][] data, IntPredicate live, float[] query, int k, Metric metric) {
    int[] ids = new int[k];
    float[] scores = new float[k];
    Arrays.fill(scores, Float.NEGATIVE_INFINITY);
    Arrays.fill(ids, -1);
    int filled = 0;
    for (int i = 0; i < data.length; i++) {
      if (!live.test(i)) {
        continue;
      }
      float score = VectorMath.score(metric, query, data[i]);
      if (filled == k && score <= scores[k - 1]) {
        continue;
      }
      int pos = filled < k ? filled++ : k - 1;
      while (pos > 0 && scores[pos - 1] < score) {
        scores[pos] = scores[pos - 1];
        ids[pos] = ids[pos - 1];
        pos--;
      }
      scores[pos] = score;
      ids[pos] = i;
    }
    return filled == k ? ids : Arrays.copyOf(ids, filled);
  }

  /**
   * Mean recall@k: the fraction of each query's true top-{@code k} found in its returned top {@code
   * k}, averaged over queries.
   */
  public static double recall(int[][] truth, int[][] found, int k) {
    double sum = 0;
    for (int q = 0; q < truth.length; q++) {
      int n = Math.min(k, truth[q].length);
      if (n == 0) {
        sum += 1;
        continue;
      }
      int hits = 0;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < Math.min(k, found[q].length); j++) {
          if (found[q][j] == truth[q][i]) {
            hits++;
            break;
          }
        }
      }
      sum += (double) hits / n;
    }
    return sum / truth.length;
  }
}
