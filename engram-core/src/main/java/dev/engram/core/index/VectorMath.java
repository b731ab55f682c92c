package dev.engram.core.index;

import dev.engram.core.model.Metric;
import java.util.Arrays;

/**
 * Distance kernels shared by every index and by the fresh segment's exact scan.
 *
 * <p>The implementation is chosen once, when this class is loaded: the JDK Vector API ({@code
 * FloatVector}, fused multiply-add, four accumulators) if the {@code jdk.incubator.vector} module
 * is in the boot layer (run with {@code --add-modules jdk.incubator.vector}) and its preferred
 * species has at least four lanes, else a scalar loop. Both agree within float rounding. The system
 * property {@code engram.vector.scalar=true} forces the scalar kernels.
 *
 * <p>Thread-safety: stateless; every method may be called from any thread.
 */
public final class VectorMath {
  private static final Kernels KERNELS = chooseKernels();

  private VectorMath() {}

  private static Kernels chooseKernels() {
    if (Boolean.getBoolean("engram.vector.scalar")
        || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return ScalarKernels.INSTANCE;
    }
    try {
      return PanamaKernels.lanes() >= 4 ? PanamaKernels.INSTANCE : ScalarKernels.INSTANCE;
    } catch (LinkageError e) {
      return ScalarKernels.INSTANCE;
    }
  }

  /** The kernels in use, e.g. {@code "vector-api-256bit"} or {@code "scalar"}. */
  public static String implementation() {
    return KERNELS.name();
  }

  /** Inner product of two vectors of equal length. */
  public static float dot(float[] a, float[] b) {
    checkLengths(a, b);
    return KERNELS.dot(a, 0, b, 0, a.length);
  }

  /** Inner product of {@code a[aOffset, aOffset+length)} and {@code b[bOffset, bOffset+length)}. */
  public static float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
    return KERNELS.dot(a, aOffset, b, bOffset, length);
  }

  /** Squared Euclidean distance of two vectors of equal length. */
  public static float squaredDistance(float[] a, float[] b) {
    checkLengths(a, b);
    return KERNELS.squaredDistance(a, 0, b, 0, a.length);
  }

  /** Squared Euclidean distance of two ranges of equal length. */
  public static float squaredDistance(float[] a, int aOffset, float[] b, int bOffset, int length) {
    return KERNELS.squaredDistance(a, aOffset, b, bOffset, length);
  }

  /** The similarity score of {@code a} and {@code b} under {@code metric}; higher is closer. */
  public static float score(Metric metric, float[] a, float[] b) {
    return switch (metric) {
      case COSINE, DOT -> dot(a, b);
      case L2 -> -squaredDistance(a, b);
    };
  }

  /** The score of two ranges under {@code metric}; higher is closer. */
  public static float score(
      Metric metric, float[] a, int aOffset, float[] b, int bOffset, int length) {
    return metric == Metric.L2
        ? -KERNELS.squaredDistance(a, aOffset, b, bOffset, length)
        : KERNELS.dot(a, aOffset, b, bOffset, length);
  }

  /** Inner product of floats and an int8 code (unscaled: multiply by the code's scale). */
  public static float dotBytes(float[] a, int aOffset, byte[] b, int bOffset, int length) {
    return KERNELS.dotBytes(a, aOffset, b, bOffset, length);
  }

  /**
   * Scalar-quantises {@code v[vOffset, vOffset+length)} into signed bytes at {@code
   * codes[cOffset...]}: {@code code = round(v / scale)} with {@code scale = max|v| / 127}, so the
   * largest component maps to ±127; returns the scale (0 for a zero vector). {@code v · q} is then
   * about {@code scale * dotBytes(q, code)}, within {@code scale / 2 * sum|q|}.
   */
  public static float quantizeInto(float[] v, int vOffset, byte[] codes, int cOffset, int length) {
    float max = 0;
    for (int i = 0; i < length; i++) {
      max = Math.max(max, Math.abs(v[vOffset + i]));
    }
    if (!(max > 0) || !Float.isFinite(max)) {
      Arrays.fill(codes, cOffset, cOffset + length, (byte) 0);
      return 0;
    }
    float inverse = 127f / max;
    for (int i = 0; i < length; i++) {
      codes[cOffset + i] = (byte) Math.round(v[vOffset + i] * inverse);
    }
    return max / 127f;
  }

  /** A unit-length copy of {@code v}; a zero vector is returned as a zero copy. */
  public static float[] normalized(float[] v) {
    float[] out = new float[v.length];
    normalizeInto(v, out, 0);
    return out;
  }

  /** Writes the unit-length version of {@code v} into {@code out[offset, offset+v.length)}. */
  static void normalizeInto(float[] v, float[] out, int offset) {
    float norm = (float) Math.sqrt(KERNELS.dot(v, 0, v, 0, v.length));
    if (norm == 0f) {
      java.util.Arrays.fill(out, offset, offset + v.length, 0f);
      return;
    }
    float inv = 1f / norm;
    for (int i = 0; i < v.length; i++) {
      out[offset + i] = v[i] * inv;
    }
  }

  private static void checkLengths(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "vectors differ in length: " + a.length + " and " + b.length);
    }
  }
}
