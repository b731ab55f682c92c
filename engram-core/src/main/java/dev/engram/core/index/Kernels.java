package dev.engram.core.index;

/**
 * The distance kernels behind {@link VectorMath}: one scalar implementation and one on the JDK
 * Vector API, chosen once when {@code VectorMath} is loaded.
 *
 * <p>Thread-safety: implementations are stateless.
 */
interface Kernels {

  /** Inner product of {@code a[aOffset, aOffset+length)} and {@code b[bOffset, ...)}. */
  float dot(float[] a, int aOffset, float[] b, int bOffset, int length);

  /**
   * Inner product of floats {@code a[aOffset, aOffset+length)} and signed bytes {@code b[bOffset,
   * ...)} (an int8 code, see {@link VectorMath#quantizeInto}).
   */
  float dotBytes(float[] a, int aOffset, byte[] b, int bOffset, int length);

  /** Squared Euclidean distance of the same two ranges. */
  float squaredDistance(float[] a, int aOffset, float[] b, int bOffset, int length);

  /** A short name for logs and benchmark reports, e.g. {@code "scalar"}. */
  String name();
}
