package dev.engram.core.storage;

import dev.engram.core.index.SearchHit;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.model.Metric;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.IntPredicate;

/**
 * A {@link VectorIndex} decorator that lets a snapshot see a quiescent index: adds and removes take
 * the read side of a lock (they still run concurrently with each other), a snapshot takes the write
 * side, so the file holds exactly the episodes whose insert had completed — never a half-linked
 * node. Searches take no lock and run during a snapshot. It also counts changes (to skip unchanged
 * spaces) and the ordinal high-water mark the snapshot covers.
 *
 * <p>Cost: an uncontended read-lock acquire per insert; inserts wait while a snapshot is being
 * written (the admission queue absorbs that, and pushes back if it fills).
 *
 * <p>Thread-safety: every method is safe from any thread.
 */
final class SnapshotGuard implements VectorIndex {
  private final VectorIndex delegate;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final AtomicInteger ordinalLimit;
  private final LongAdder changes = new LongAdder();

  SnapshotGuard(VectorIndex delegate, int ordinalLimit) {
    this.delegate = delegate;
    this.ordinalLimit = new AtomicInteger(ordinalLimit);
  }

  /** What a snapshot covers. */
  record Covered(int ordinalLimit, int size, long changes) {}

  VectorIndex delegate() {
    return delegate;
  }

  /** Changes (adds and removes) since the guard was made; monotonic. */
  long changes() {
    return changes.sum();
  }

  /** One more than the highest ordinal ever added. */
  int ordinalLimit() {
    return ordinalLimit.get();
  }

  /** Writes the index to {@code file} while no add or remove runs. */
  Covered snapshot(GraphSnapshots snapshots, Path file) throws IOException {
    lock.writeLock().lock();
    try {
      Covered covered = new Covered(ordinalLimit.get(), delegate.size(), changes.sum());
      snapshots.save(delegate, file);
      return covered;
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public int dimension() {
    return delegate.dimension();
  }

  @Override
  public Metric metric() {
    return delegate.metric();
  }

  @Override
  public void add(int ordinal, float[] vector) {
    lock.readLock().lock();
    try {
      delegate.add(ordinal, vector);
      ordinalLimit.accumulateAndGet(ordinal + 1, Math::max);
      changes.increment();
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public boolean remove(int ordinal) {
    lock.readLock().lock();
    try {
      boolean removed = delegate.remove(ordinal);
      if (removed) {
        changes.increment();
      }
      return removed;
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public boolean contains(int ordinal) {
    return delegate.contains(ordinal);
  }

  @Override
  public List<SearchHit> search(float[] query, int k, int ef, float minScore, IntPredicate filter) {
    return delegate.search(query, k, ef, minScore, filter);
  }

  @Override
  public float[] vector(int ordinal) {
    return delegate.vector(ordinal);
  }

  @Override
  public int size() {
    return delegate.size();
  }

  @Override
  public long memoryBytes() {
    return delegate.memoryBytes();
  }
}
