package dev.engram.core.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One index worker: drains its own queue (the spaces hashed to it) in batches, steals from the
 * busiest other worker when idle, and inserts each episode into its space's vector index.
 *
 * <p>Concurrency: {@link #queue} is multi-producer (acceptors), multi-consumer (this worker and
 * stealers). {@link #batch} and {@link #cursor} belong to the worker's current thread; when that
 * thread dies the supervisor reads and repairs them before starting the replacement thread (thread
 * start orders the hand-off). {@link #queued} counts tasks in {@link #queue} (a hint for stealing
 * and batch sizing, never used for admission).
 */
final class IndexWorker implements Runnable {
  static final int MAX_BATCH = 256;
  private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  final int slot;
  final ConcurrentLinkedQueue<IndexTask> queue = new ConcurrentLinkedQueue<>();
  final AtomicInteger queued = new AtomicInteger();
  final List<IndexTask> batch = new ArrayList<>(MAX_BATCH);
  int cursor;
  volatile Thread thread;
  private volatile boolean parked;
  private final IngestQueue owner;

  IndexWorker(int slot, IngestQueue owner) {
    this.slot = slot;
    this.owner = owner;
  }

  void offer(IndexTask task) {
    queue.offer(task);
    queued.incrementAndGet();
    if (parked) {
      LockSupport.unpark(thread);
    }
  }

  IndexTask poll() {
    IndexTask task = queue.poll();
    if (task != null) {
      queued.decrementAndGet();
    }
    return task;
  }

  @Override
  public void run() {
    while (!owner.stopped()) {
      // A batch left by a thread that died is finished first, even when its failing task was the
      // last one (then nothing is left to index, but the tasks before it must still be counted).
      if (batch.isEmpty() && !fillBatch()) {
        parked = true;
        if (queue.isEmpty()) {
          LockSupport.parkNanos(this, IDLE_PARK_NANOS);
        }
        parked = false;
        continue;
      }
      processBatch();
    }
  }

  private boolean fillBatch() {
    cursor = 0;
    // Adaptive batch: one at a time when idle, up to MAX_BATCH when the queue is deep.
    int want = Math.min(MAX_BATCH, queued.get() / 2 + 1);
    IndexTask task;
    while (batch.size() < want && (task = poll()) != null) {
      batch.add(task);
    }
    if (batch.isEmpty()) {
      owner.stealInto(this, batch);
    }
    return !batch.isEmpty();
  }

  private void processBatch() {
    while (cursor < batch.size()) {
      IndexTask task = batch.get(cursor);
      long started = owner.nanoTime();
      owner.index(task);
      cursor++;
      owner.yieldToAccepts(owner.nanoTime() - started);
    }
    owner.completed(batch.size());
    batch.clear();
    cursor = 0;
  }
}
