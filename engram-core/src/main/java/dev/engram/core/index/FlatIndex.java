package dev.engram.core.index;

import dev.engram.core.model.Metric;
import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/**
 * The exact index: every search scans every vector. It is the reference the approximate index is
 * measured against, and the right choice for small spaces and for the fresh segment.
 *
 * <p>Vectors live contiguously in chunks of {@value ChunkTable#SIZE} ({@code float[SIZE *
 * dimension]} each), found by ordinal, so ordinals may arrive in any order.
 *
 * <p>Concurrency: no locks. Each ordinal has a state word in its chunk, changed only by
 * compare-and-set: {@code 0 → CLAIMED} (by exactly one {@link #add}; a second add of the same
 * ordinal fails the CAS and is rejected), then {@code VISIBLE} is set with release semantics after
 * the vector is copied, and {@code DELETED} by {@link #remove} (of a visible ordinal only). An add
 * that throws after its claim puts the slot back to {@code 0}, so it can be retried. A search reads
 * the state with acquire semantics and scores only {@code VISIBLE && !DELETED} ordinals, and {@link
 * #contains} is true only for those, so it never reads a half-written vector and never returns an
 * ordinal whose removal completed before the search started. Impossible: the same ordinal present
 * twice; a removed ordinal coming back; a claimed, unfinished ordinal counted as present.
 *
 * <p>Thread-safety: all methods may be called concurrently from any thread.
 */
public final class FlatIndex implements VectorIndex {
  private static final int CLAIMED = SlotStates.CLAIMED;
  private static final int VISIBLE = 2;
  private static final int DELETED = SlotStates.DELETED;
  private static final VarHandle STATE = SlotStates.INTS;

  private final int dimension;
  private final Metric metric;
  private final ChunkTable<Chunk> chunks;
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicInteger highWater = new AtomicInteger();

  private static final class Chunk {
    final float[] vectors;
    final int[] state = new int[ChunkTable.SIZE];

    Chunk(int dimension) {
      vectors = new float[ChunkTable.SIZE * dimension];
    }
  }

  /** An empty exact index. */
  public FlatIndex(int dimension, Metric metric) {
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be positive, got " + dimension);
    }
    this.dimension = dimension;
    this.metric = java.util.Objects.requireNonNull(metric, "metric");
    this.chunks = new ChunkTable<>(i -> new Chunk(dimension));
  }

  @Override
  public int dimension() {
    return dimension;
  }

  @Override
  public Metric metric() {
    return metric;
  }

  @Override
  public void add(int ordinal, float[] vector) {
    if (ordinal < 0) {
      throw new IllegalArgumentException("ordinal must be non-negative, got " + ordinal);
    }
    checkDimension(vector);
    insert(ordinal, vector, metric == Metric.COSINE);
  }

  private void insert(int ordinal, float[] vector, boolean normalize) {
    Chunk chunk = chunks.ensure(ordinal);
    int slot = ordinal & ChunkTable.MASK;
    if (!STATE.compareAndSet(chunk.state, slot, 0, CLAIMED)) {
      throw new IllegalStateException("ordinal " + ordinal + " was already added");
    }
    try {
      if (normalize) {
        VectorMath.normalizeInto(vector, chunk.vectors, slot * dimension);
      } else {
        System.arraycopy(vector, 0, chunk.vectors, slot * dimension, dimension);
      }
      highWater.accumulateAndGet(ordinal + 1, Math::max);
    } catch (Throwable failure) {
      // Nothing links to a flat slot and nobody reads an unclaimed one: hand it back.
      STATE.setRelease(chunk.state, slot, 0);
      throw failure;
    }
    size.incrementAndGet();
    SlotStates.setFlag(chunk.state, slot, VISIBLE);
  }

  @Override
  public boolean remove(int ordinal) {
    Chunk chunk = ordinal < 0 ? null : chunks.get(ordinal);
    if (chunk == null) {
      return false;
    }
    if (!SlotStates.tombstone(chunk.state, ordinal & ChunkTable.MASK, VISIBLE)) {
      return false;
    }
    size.decrementAndGet();
    return true;
  }

  @Override
  public boolean contains(int ordinal) {
    Chunk chunk = ordinal < 0 ? null : chunks.get(ordinal);
    if (chunk == null) {
      return false;
    }
    int state = (int) STATE.getAcquire(chunk.state, ordinal & ChunkTable.MASK);
    return (state & (VISIBLE | DELETED)) == VISIBLE;
  }

  @Override
  public List<SearchHit> search(float[] query, int k, int ef, float minScore, IntPredicate filter) {
    checkDimension(query);
    if (k < 1) {
      throw new IllegalArgumentException("k must be positive, got " + k);
    }
    float[] q = metric == Metric.COSINE ? VectorMath.normalized(query) : query;
    ScoreHeap best = new ScoreHeap(Math.min(k, 1024) + 1);
    int limit = highWater.get();
    for (int base = 0; base < limit; base += ChunkTable.SIZE) {
      Chunk chunk = chunks.get(base);
      if (chunk == null) {
        continue;
      }
      int end = Math.min(ChunkTable.SIZE, limit - base);
      for (int slot = 0; slot < end; slot++) {
        int state = (int) STATE.getAcquire(chunk.state, slot);
        if ((state & (VISIBLE | DELETED)) != VISIBLE) {
          continue;
        }
        float score = VectorMath.score(metric, q, 0, chunk.vectors, slot * dimension, dimension);
        if (score < minScore || (best.size() == k && score <= best.minScore())) {
          continue;
        }
        int ordinal = base + slot;
        if (!filter.test(ordinal)) {
          continue;
        }
        best.push(ordinal, score);
        if (best.size() > k) {
          best.pop();
        }
      }
    }
    return toHits(best);
  }

  static List<SearchHit> toHits(ScoreHeap heap) {
    int n = heap.size();
    if (n == 0) {
      return List.of();
    }
    int[] ids = new int[n];
    float[] scores = new float[n];
    heap.drainDescending(ids, scores);
    List<SearchHit> hits = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      hits.add(new SearchHit(ids[i], scores[i]));
    }
    Collections.sort(hits);
    return hits;
  }

  @Override
  public int size() {
    return size.get();
  }

  @Override
  public long memoryBytes() {
    long perChunk = 16L + 4L * ChunkTable.SIZE * dimension + 16L + 4L * ChunkTable.SIZE + 32;
    return 64 + 8L * chunks.slots() + perChunk * chunks.created();
  }

  /** A copy of the stored vector (unit length for cosine), or null if absent or removed. */
  public float[] vector(int ordinal) {
    if (!contains(ordinal)) {
      return null;
    }
    Chunk chunk = chunks.get(ordinal);
    int from = (ordinal & ChunkTable.MASK) * dimension;
    return java.util.Arrays.copyOfRange(chunk.vectors, from, from + dimension);
  }

  /**
   * Writes the present vectors to {@code path} atomically (temporary file, then rename), in the
   * checksummed format {@link #load} reads. Adds and removes running concurrently may or may not be
   * included.
   */
  public void save(Path path) throws IOException {
    IndexFiles.writeAtomically(
        path,
        IndexFiles.KIND_FLAT,
        out -> {
          out.putInt(dimension);
          out.putByte((byte) metric.ordinal());
          int limit = highWater.get();
          int count = 0;
          for (int ordinal = 0; ordinal < limit; ordinal++) {
            if (contains(ordinal)) {
              count++;
            }
          }
          out.putInt(count);
          int written = 0;
          for (int ordinal = 0; ordinal < limit && written < count; ordinal++) {
            float[] v = vector(ordinal);
            if (v != null) {
              out.putInt(ordinal);
              out.putFloats(v, 0, dimension);
              written++;
            }
          }
          while (written < count) {
            // A concurrent remove shrank the set after counting: pad with removed entries.
            out.putInt(-1);
            out.putFloats(new float[dimension], 0, dimension);
            written++;
          }
        });
  }

  /**
   * Reads an index written by {@link #save}.
   *
   * @throws IndexFormatException if the file is truncated, corrupt or not a flat index
   */
  public static FlatIndex load(Path path) throws IOException {
    try (IndexFiles.Input in = IndexFiles.open(path, IndexFiles.KIND_FLAT)) {
      int dimension = in.getInt();
      int metricOrdinal = in.getByte();
      if (dimension < 1 || metricOrdinal < 0 || metricOrdinal >= Metric.values().length) {
        throw in.corrupt("bad header: dimension " + dimension + ", metric " + metricOrdinal);
      }
      int count = in.getInt();
      if (count < 0 || (long) count * (4 + 4L * dimension) != in.remaining()) {
        throw in.corrupt("declares " + count + " vectors but holds " + in.remaining() + " bytes");
      }
      FlatIndex index = new FlatIndex(dimension, Metric.values()[metricOrdinal]);
      float[] v = new float[dimension];
      for (int i = 0; i < count; i++) {
        int ordinal = in.getInt();
        in.getFloats(v, 0, dimension);
        if (ordinal == -1) {
          continue;
        }
        if (ordinal < 0 || index.contains(ordinal)) {
          throw in.corrupt("bad or duplicate ordinal " + ordinal);
        }
        index.insert(ordinal, v, false);
      }
      in.expectEnd();
      return index;
    }
  }

  private void checkDimension(float[] vector) {
    if (vector.length != dimension) {
      throw new IllegalArgumentException(
          "expected a vector of dimension " + dimension + ", got " + vector.length);
    }
  }
}
