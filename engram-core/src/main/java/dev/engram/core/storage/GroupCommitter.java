package dev.engram.core.storage;

import dev.engram.core.ingest.Watermark;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Makes write batches durable according to the {@link FsyncPolicy}, grouping concurrent writers.
 *
 * <p>Group commit:
 *
 * <ul>
 *   <li>{@code ALWAYS}: one committer thread ({@code engram-wal}) takes every pending batch from a
 *       bounded queue, writes each to the log without sync, then calls {@code SyncWAL} once and
 *       completes the whole group: concurrent sessions share one fsync.
 *   <li>{@code INTERVAL}: the caller writes its batch itself ({@code sync=false}); RocksDB's own
 *       write group joins concurrent writers into one log append, which reaches the OS before
 *       {@code write} returns. A scheduled thread calls {@code SyncWAL} every sync interval.
 *   <li>{@code NEVER}: the caller writes with the log disabled (memtable only).
 * </ul>
 *
 * <p>Batch ownership ({@code ALWAYS}): a queued batch belongs to whichever of the committer and the
 * waiting writer {@linkplain Request#claim claims} it first. A writer whose wait times out claims
 * it back, so the committer skips it: the write truly did not happen, and the writer may free the
 * batch. If the committer claimed it first it is being written: the writer waits for the real
 * outcome, however long, so {@link #write} never returns while the committer still reads the batch
 * and never reports a failure for a batch that then reaches the log.
 *
 * <p>Tickets: {@link #begin} numbers every write set 1, 2, 3 … in the order writers start; the
 * write set {@link #complete completes} its number once its outcome is final (written and
 * published, or failed and withdrawn), so {@link #awaitDurable} can wait for "every write set
 * started before now". A duplicate observation uses it: its ack waits until the write of the
 * original (begun earlier, by another session perhaps) is done.
 *
 * <p>Concurrency: the ticket watermark is guarded by {@link #lock}; the queue is an {@link
 * ArrayBlockingQueue} (producers block only when 4096 groups are pending). Impossible outcomes: a
 * {@code write} returning normally before its batch is in the log (and, under {@code ALWAYS},
 * synced); a {@code write} failing for a batch that is then written; the committer reading a batch
 * after its {@code write} returned.
 */
final class GroupCommitter implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(GroupCommitter.class.getName());
  private static final int MAX_GROUP = 512;

  private final EpisodeStore store;
  private final FsyncPolicy policy;
  private final StorageFaults faults;
  private final long timeoutNanos;
  private final WriteOptions writeOptions;
  private final AtomicLong issued = new AtomicLong();
  private final Watermark completed = new Watermark(0);
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition advanced = lock.newCondition();
  private final ArrayBlockingQueue<Request> pending = new ArrayBlockingQueue<>(4096);
  private final Thread committer;
  private final ScheduledExecutorService syncer;
  private volatile boolean closed;

  /** One queued batch; see "Batch ownership" above. */
  private static final class Request {
    final WriteBatch batch;
    final CompletableFuture<Void> done = new CompletableFuture<>();
    private final AtomicBoolean claimed = new AtomicBoolean();

    Request(WriteBatch batch) {
      this.batch = batch;
    }

    /** True for the first caller only: the committer (to write it) or the writer (to cancel). */
    boolean claim() {
      return claimed.compareAndSet(false, true);
    }
  }

  GroupCommitter(
      EpisodeStore store,
      FsyncPolicy policy,
      Duration syncInterval,
      StorageFaults faults,
      Duration timeout) {
    this.store = store;
    this.timeoutNanos = timeout.toNanos();
    this.policy = policy;
    this.faults = faults;
    this.writeOptions =
        new WriteOptions().setSync(false).setDisableWAL(policy == FsyncPolicy.NEVER);
    if (policy == FsyncPolicy.ALWAYS) {
      committer = new Thread(this::runCommitter, "engram-wal");
      committer.setDaemon(true);
      committer.start();
    } else {
      committer = null;
    }
    if (policy == FsyncPolicy.INTERVAL) {
      syncer =
          Executors.newSingleThreadScheduledExecutor(
              Thread.ofPlatform().name("engram-wal-sync").daemon().factory());
      long nanos = syncInterval.toNanos();
      syncer.scheduleWithFixedDelay(this::syncQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
    } else {
      syncer = null;
    }
  }

  FsyncPolicy policy() {
    return policy;
  }

  /** A new ticket; the caller must pass it to {@link #complete} exactly once. */
  long begin() {
    return issued.incrementAndGet();
  }

  /** The last ticket handed out. */
  long issued() {
    return issued.get();
  }

  /**
   * Writes {@code batch} durably per the policy. Any thread; blocks until durable. When it returns
   * or throws, the store no longer reads the batch: the caller may close it.
   *
   * @throws StorageFullException if the disk is full
   * @throws StorageFailedException on any other storage failure, or if the write timed out in the
   *     queue (it is then not written)
   */
  void write(WriteBatch batch) {
    if (closed) {
      throw new StorageFailedException("the store is closed: the server is shutting down");
    }
    if (policy == FsyncPolicy.ALWAYS) {
      Request request = new Request(batch);
      enqueue(request);
      join(request);
    } else {
      try {
        faults.beforeWrite();
        store.write(writeOptions, batch);
      } catch (RocksDBException e) {
        throw EpisodeStore.failure("writing to the store", e);
      }
    }
  }

  /** The outcome of {@code ticket}'s write set is final; {@link #awaitDurable} may pass it. */
  void complete(long ticket) {
    long before = completed.through();
    if (completed.complete(ticket) != before) {
      lock.lock();
      try {
        advanced.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Every ticket up to this one has completed. */
  long completedThrough() {
    return completed.through();
  }

  /** Waits until every ticket up to {@code ticket} has completed. */
  void awaitDurable(long ticket) {
    if (completed.through() >= ticket) {
      return;
    }
    long deadline = System.nanoTime() + timeoutNanos;
    lock.lock();
    try {
      while (completed.through() < ticket) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new StorageFailedException("timed out waiting for an earlier write to complete");
        }
        advanced.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StorageFailedException("interrupted while waiting for the store");
    } finally {
      lock.unlock();
    }
  }

  /** Forces the log to disk now (shutdown, snapshots). */
  void sync() throws RocksDBException {
    if (policy != FsyncPolicy.NEVER) {
      store.syncWal();
    }
  }

  /**
   * Stops the committer and the syncer; later commits fail with UNAVAILABLE.
   *
   * @return whether both have stopped, so nothing of theirs can still be inside RocksDB: closing
   *     the database under a running {@code SyncWAL} or write crashes the process
   */
  public boolean stop() {
    closed = true;
    boolean quiet = true;
    try {
      if (syncer != null) {
        syncer.shutdownNow();
        quiet = syncer.awaitTermination(30, TimeUnit.SECONDS);
      }
      if (committer != null) {
        committer.interrupt();
        committer.join(30_000);
        quiet &= !committer.isAlive();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      quiet = false;
    }
    List<Request> left = new ArrayList<>();
    pending.drainTo(left);
    for (Request r : left) {
      if (r.claim()) {
        r.done.completeExceptionally(new StorageFailedException("the store is closed"));
      }
    }
    if (quiet) {
      writeOptions.close();
    }
    return quiet;
  }

  @Override
  public void close() {
    stop();
  }

  private void enqueue(Request request) {
    try {
      pending.put(request);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StorageFailedException("interrupted while queueing a write");
    }
  }

  private void join(Request request) {
    boolean interrupted = false;
    try {
      try {
        request.done.get(timeoutNanos, TimeUnit.NANOSECONDS);
        return;
      } catch (TimeoutException e) {
        if (request.claim()) {
          throw new StorageFailedException(
              "timed out waiting for the write-ahead log; the write was not made");
        }
      } catch (InterruptedException e) {
        if (request.claim()) {
          Thread.currentThread().interrupt();
          throw new StorageFailedException(
              "interrupted while waiting for the write-ahead log; the write was not made");
        }
        interrupted = true;
      } catch (ExecutionException e) {
        throw failure(e);
      }
      // The committer is writing the batch: its outcome is the truth, however late.
      while (true) {
        try {
          request.done.get();
          return;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw failure(e);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static RuntimeException failure(ExecutionException e) {
    if (e.getCause() instanceof RuntimeException r) {
      return r;
    }
    return new StorageFailedException("write failed: " + e.getCause());
  }

  private void runCommitter() {
    List<Request> group = new ArrayList<>(MAX_GROUP);
    while (!closed) {
      try {
        Request first = pending.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        group.add(first);
        pending.drainTo(group, MAX_GROUP - 1);
        writeGroup(group);
      } catch (InterruptedException e) {
        if (closed) {
          break;
        }
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "write-ahead log committer failed", e);
        for (Request r : group) {
          r.done.completeExceptionally(new StorageFailedException("write failed: " + e));
        }
      } finally {
        group.clear();
      }
    }
  }

  private void writeGroup(List<Request> group) {
    List<Request> written = new ArrayList<>(group.size());
    for (Request r : group) {
      if (!r.claim()) {
        continue; // its writer timed out and took it back: not written
      }
      try {
        faults.beforeWrite();
        store.write(writeOptions, r.batch);
        written.add(r);
      } catch (RocksDBException e) {
        r.done.completeExceptionally(EpisodeStore.failure("writing to the store", e));
      }
    }
    if (written.isEmpty()) {
      return;
    }
    try {
      store.syncWal();
      for (Request r : written) {
        r.done.complete(null);
      }
    } catch (RocksDBException e) {
      RuntimeException failure = EpisodeStore.failure("syncing the write-ahead log", e);
      for (Request r : written) {
        r.done.completeExceptionally(failure);
      }
    }
  }

  private void syncQuietly() {
    try {
      store.syncWal();
    } catch (RocksDBException | RuntimeException e) {
      LOG.log(Level.WARNING, "periodic write-ahead log sync failed: " + e);
    }
  }
}
