package dev.engram.core.index;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the JDK Vector API: the preferred float species, fused multiply-add and four
 * accumulators, then a scalar tail. Only loaded when the {@code jdk.incubator.vector} module is
 * present, so the rest of the code never links against it.
 *
 * <p>Thread-safety: stateless.
 */
final class PanamaKernels implements Kernels {
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final int LANES = SPECIES.length();
  // As many bytes as float lanes: one load widens (B2F) into one float vector.
  private static final VectorSpecies<Byte> BYTES =
      VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * LANES)));

  static final PanamaKernels INSTANCE = new PanamaKernels();

  private PanamaKernels() {}

  /** Lanes of the preferred species; {@link VectorMath} falls back to scalar below 4. */
  static int lanes() {
    return LANES;
  }

  @Override
  public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
    FloatVector acc0 = FloatVector.zero(SPECIES);
    FloatVector acc1 = FloatVector.zero(SPECIES);
    FloatVector acc2 = FloatVector.zero(SPECIES);
    FloatVector acc3 = FloatVector.zero(SPECIES);
    int i = 0;
    int bound4 = length - length % (4 * LANES);
    for (; i < bound4; i += 4 * LANES) {
      acc0 =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i), acc0);
      acc1 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + LANES)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i + LANES), acc1);
      acc2 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + 2 * LANES)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i + 2 * LANES), acc2);
      acc3 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + 3 * LANES)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i + 3 * LANES), acc3);
    }
    int bound1 = length - length % LANES;
    for (; i < bound1; i += LANES) {
      acc0 =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .fma(FloatVector.fromArray(SPECIES, b, bOffset + i), acc0);
    }
    float sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    for (; i < length; i++) {
      sum = Math.fma(a[aOffset + i], b[bOffset + i], sum);
    }
    return sum;
  }

  @Override
  public float dotBytes(float[] a, int aOffset, byte[] b, int bOffset, int length) {
    FloatVector acc0 = FloatVector.zero(SPECIES);
    FloatVector acc1 = FloatVector.zero(SPECIES);
    int i = 0;
    if (BYTES.length() == LANES) {
      int bound2 = length - length % (2 * LANES);
      for (; i < bound2; i += 2 * LANES) {
        acc0 = widen(b, bOffset + i).fma(FloatVector.fromArray(SPECIES, a, aOffset + i), acc0);
        acc1 =
            widen(b, bOffset + i + LANES)
                .fma(FloatVector.fromArray(SPECIES, a, aOffset + i + LANES), acc1);
      }
    }
    float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    for (; i < length; i++) {
      sum = Math.fma(a[aOffset + i], b[bOffset + i], sum);
    }
    return sum;
  }

  private static FloatVector widen(byte[] b, int offset) {
    return (FloatVector)
        ByteVector.fromArray(BYTES, b, offset).convertShape(VectorOperators.B2F, SPECIES, 0);
  }

  @Override
  public float squaredDistance(float[] a, int aOffset, float[] b, int bOffset, int length) {
    FloatVector acc0 = FloatVector.zero(SPECIES);
    FloatVector acc1 = FloatVector.zero(SPECIES);
    FloatVector acc2 = FloatVector.zero(SPECIES);
    FloatVector acc3 = FloatVector.zero(SPECIES);
    int i = 0;
    int bound4 = length - length % (4 * LANES);
    for (; i < bound4; i += 4 * LANES) {
      FloatVector d0 =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .sub(FloatVector.fromArray(SPECIES, b, bOffset + i));
      FloatVector d1 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + LANES)
              .sub(FloatVector.fromArray(SPECIES, b, bOffset + i + LANES));
      FloatVector d2 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + 2 * LANES)
              .sub(FloatVector.fromArray(SPECIES, b, bOffset + i + 2 * LANES));
      FloatVector d3 =
          FloatVector.fromArray(SPECIES, a, aOffset + i + 3 * LANES)
              .sub(FloatVector.fromArray(SPECIES, b, bOffset + i + 3 * LANES));
      acc0 = d0.fma(d0, acc0);
      acc1 = d1.fma(d1, acc1);
      acc2 = d2.fma(d2, acc2);
      acc3 = d3.fma(d3, acc3);
    }
    int bound1 = length - length % LANES;
    for (; i < bound1; i += LANES) {
      FloatVector d =
          FloatVector.fromArray(SPECIES, a, aOffset + i)
              .sub(FloatVector.fromArray(SPECIES, b, bOffset + i));
      acc0 = d.fma(d, acc0);
    }
    float sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    for (; i < length; i++) {
      float d = a[aOffset + i] - b[bOffset + i];
      sum = Math.fma(d, d, sum);
    }
    return sum;
  }

  @Override
  public String name() {
    return "vector-api-" + SPECIES.vectorBitSize() + "bit";
  }
}
