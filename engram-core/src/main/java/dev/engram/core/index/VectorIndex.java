package dev.engram.core.index;

import dev.engram.core.model.Metric;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * A k-nearest-neighbour index over fixed-dimension float vectors, keyed by dense non-negative
 * {@code int} ordinals that the owning memory space assigns.
 *
 * <p>Scores are "higher is more similar" (see {@link Metric}): cosine similarity, inner product, or
 * the negated squared Euclidean distance. Results are ordered by descending score.
 *
 * <p>Thread-safety: every implementation is safe for concurrent {@link #add}, {@link #remove} and
 * {@link #search} calls from any number of threads; a search sees every add that completed before
 * it started and may see adds that run concurrently with it.
 */
public interface VectorIndex {

  /** The dimension every vector must have. */
  int dimension();

  /** The metric the index ranks by. */
  Metric metric();

  /**
   * Adds a vector under {@code ordinal}. The index may keep the array; callers must not modify it
   * afterwards. For {@link Metric#COSINE} the caller passes a unit vector.
   *
   * <p>An add that throws for any other reason (out of memory, a bug) leaves the ordinal absent:
   * {@link #contains} stays false, searches never return it, and {@code add} may be called again.
   *
   * @throws IllegalArgumentException if the dimension is wrong or the ordinal is negative
   * @throws IllegalStateException if the ordinal is already present (or being added)
   */
  void add(int ordinal, float[] vector);

  /**
   * Removes an ordinal; searches no longer return it. Returns false if it was not present (never
   * added, removed, or its add has not completed).
   */
  boolean remove(int ordinal);

  /**
   * Whether the ordinal is present: its {@link #add} completed (so searches can return it) and it
   * was not removed. False while an add is still running or after one failed.
   */
  boolean contains(int ordinal);

  /**
   * The {@code k} most similar vectors to {@code query} with a score of at least {@code minScore}
   * whose ordinal passes {@code filter}.
   *
   * @param ef the search width for approximate indexes (ignored by exact ones); values below {@code
   *     k} are raised to {@code k}
   * @throws IllegalArgumentException if the query's dimension is wrong or k is not positive
   */
  List<SearchHit> search(float[] query, int k, int ef, float minScore, IntPredicate filter);

  /**
   * A copy of the vector stored under {@code ordinal}, or null if it is absent (never added, its
   * add not completed, or removed). For {@link Metric#COSINE} this is the unit vector the index
   * ranks by. The index is the one place an indexed episode's vector lives: the engine reads it
   * back from here (recall with embeddings, consolidation) instead of keeping a second copy.
   */
  float[] vector(int ordinal);

  /** Number of vectors present (added and not removed). */
  int size();

  /** Approximate heap and off-heap bytes held by the index. */
  long memoryBytes();

  /** Accepts every ordinal. */
  IntPredicate ALL = ordinal -> true;
}
