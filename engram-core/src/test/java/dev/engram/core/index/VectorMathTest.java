package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.engram.core.model.Metric;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VectorMathTest {

  @Test
  void implementation_vectorModulePresent_usesVectorApi() {
    // The test JVM runs with --add-modules jdk.incubator.vector (parent pom engram.test.jvmArgs).
    assertThat(VectorMath.implementation()).startsWith("vector-api");
  }

  @Test
  void dotBytes_vectorApiAndScalar_equalExactSumOfProducts() {
    SplittableRandom random = new SplittableRandom(11);
    for (int length = 0; length <= 800; length += length < 70 ? 1 : 89) {
      int aOffset = random.nextInt(5);
      int bOffset = random.nextInt(5);
      float[] a = new float[aOffset + length];
      byte[] b = new byte[bOffset + length];
      double exact = 0;
      for (int i = 0; i < length; i++) {
        a[aOffset + i] = (float) random.nextGaussian();
        b[bOffset + i] = (byte) (random.nextInt(255) - 127);
        exact += (double) a[aOffset + i] * b[bOffset + i];
      }
      float tolerance = 1e-4f * (length + 1) * 127;
      assertThat(PanamaKernels.INSTANCE.dotBytes(a, aOffset, b, bOffset, length))
          .as("length %d", length)
          .isCloseTo((float) exact, offset(tolerance));
      assertThat(ScalarKernels.INSTANCE.dotBytes(a, aOffset, b, bOffset, length))
          .as("length %d", length)
          .isCloseTo((float) exact, offset(tolerance));
    }
  }

  @Test
  void quantizeInto_unitVector_dotWithinTheStatedBound() {
    SplittableRandom random = new SplittableRandom(5);
    int dim = 384;
    float[] v = new float[dim];
    float[] q = new float[dim];
    for (int i = 0; i < dim; i++) {
      v[i] = (float) random.nextGaussian();
      q[i] = (float) random.nextGaussian();
    }
    VectorMath.normalizeInto(v, v, 0);
    VectorMath.normalizeInto(q, q, 0);
    byte[] codes = new byte[dim + 3];
    float scale = VectorMath.quantizeInto(v, 0, codes, 3, dim);

    float approximate = scale * VectorMath.dotBytes(q, 0, codes, 3, dim);
    double bound = 0;
    int extremes = 0;
    for (int i = 0; i < dim; i++) {
      bound += Math.abs(q[i]) * scale / 2;
      extremes += Math.abs(codes[3 + i]) == 127 ? 1 : 0;
    }
    assertThat(approximate).isCloseTo(VectorMath.dot(q, v), offset((float) bound + 1e-6f));
    assertThat(extremes).isPositive();
    assertThat(VectorMath.quantizeInto(new float[dim], 0, codes, 0, dim)).isZero();
    assertThat(codes[0]).isZero();
  }

  @Test
  void kernels_vectorApiAndScalar_agreeWithinTolerance() {
    SplittableRandom random = new SplittableRandom(7);
    Kernels scalar = ScalarKernels.INSTANCE;
    Kernels simd = PanamaKernels.INSTANCE;
    for (int length = 0; length <= 1100; length += length < 70 ? 1 : 97) {
      int aOffset = random.nextInt(5);
      int bOffset = random.nextInt(5);
      float[] a = new float[aOffset + length];
      float[] b = new float[bOffset + length];
      double exactDot = 0;
      double exactDistance = 0;
      for (int i = 0; i < length; i++) {
        a[aOffset + i] = (float) random.nextGaussian();
        b[bOffset + i] = (float) random.nextGaussian();
        exactDot += (double) a[aOffset + i] * b[bOffset + i];
        double d = (double) a[aOffset + i] - b[bOffset + i];
        exactDistance += d * d;
      }
      float tolerance = 1e-5f * (length + 1);
      assertThat(simd.dot(a, aOffset, b, bOffset, length))
          .isCloseTo(scalar.dot(a, aOffset, b, bOffset, length), offset(tolerance))
          .isCloseTo((float) exactDot, offset(tolerance));
      assertThat(simd.squaredDistance(a, aOffset, b, bOffset, length))
          .isCloseTo(scalar.squaredDistance(a, aOffset, b, bOffset, length), offset(tolerance))
          .isCloseTo((float) exactDistance, offset(tolerance));
    }
  }

  @Test
  void score_eachMetric_higherIsCloser() {
    float[] a = {1, 0};
    float[] b = {0, 2};
    assertThat(VectorMath.score(Metric.DOT, a, b)).isZero();
    assertThat(VectorMath.score(Metric.COSINE, a, a)).isEqualTo(1f);
    assertThat(VectorMath.score(Metric.L2, a, b)).isEqualTo(-5f);
  }

  @Test
  void normalized_zeroVector_staysZero() {
    assertThat(VectorMath.normalized(new float[3])).containsExactly(0f, 0f, 0f);
    float[] unit = VectorMath.normalized(new float[] {3, 4});
    assertThat(unit[0]).isCloseTo(0.6f, offset(1e-6f));
    assertThat(unit[1]).isCloseTo(0.8f, offset(1e-6f));
  }

  @Test
  void dot_lengthMismatch_rejected() {
    assertThatThrownBy(() -> VectorMath.dot(new float[2], new float[3]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("2 and 3");
  }
}
