package dev.engram.core.storage;

import dev.engram.core.model.Episode;
import dev.engram.core.space.MemorySpace;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The durable record of one stream message or unary call: the episodes it admitted, the session's
 * progress, forgets. It becomes one RocksDB {@link WriteBatch} (atomic: all of it survives a crash
 * or none of it), written by {@link #commit} before the caller acknowledges.
 *
 * <p>Visibility (accepted = durable + visible): an admitted episode is only reserved in its space
 * until the batch is durable; then {@link #commit} {@linkplain Pending#publish publishes} it
 * (recallable, handed to an index worker). If the write fails, every admission is {@linkplain
 * Pending#withdraw withdrawn} instead, before anyone could have read it, and the failure propagates
 * as {@link StorageFullException} or {@link StorageFailedException}. Nothing is ever rolled back
 * after it was visible.
 *
 * <p>Duplicates: an observation whose id another writer admitted a moment ago must not be acked
 * before that writer's outcome is final; {@link #duplicate} makes {@link #commit} wait for every
 * write set begun before it. A write set completes its ticket only after it has published or
 * withdrawn, so the duplicate then sees the truth.
 *
 * <p>Lifecycle: {@link #commit} or {@link #close} exactly decide the set; whichever comes first
 * completes its ticket (in {@code finally}) and frees the batch, so a set abandoned by an exception
 * ({@code try}-with-resources) never leaves later duplicates waiting.
 *
 * <p>Thread-safety: confined to the thread that began it.
 */
public final class WriteSet implements AutoCloseable {
  private static final WriteSet IN_MEMORY = new WriteSet(null, 0);

  private final DurableStore store;
  private final long ticket;
  private WriteBatch batch;
  private long barrier;
  private List<Pending> admitted;
  private List<Duplicate> duplicates;
  private byte[] progressKey;
  private byte[] progressValue;
  private boolean done;

  /**
   * An admission waiting for its write set: made visible once durable, withdrawn if not.
   *
   * <p>Thread-safety: called once, on the thread that commits the set.
   */
  public interface Pending {

    /** The write is durable (or there is no store): make the episode visible and hand it on. */
    void publish();

    /** The write failed: undo the admission; nobody has seen it. */
    void withdraw();
  }

  private record Duplicate(MemorySpace space, String id) {}

  WriteSet(DurableStore store, long ticket) {
    this.store = store;
    this.ticket = ticket;
  }

  static WriteSet inMemory() {
    return IN_MEMORY;
  }

  /**
   * An episode {@code space} reserved under {@code ordinal}: stored with the set, then published by
   * {@link #commit} (at once when there is no store).
   */
  public void admitted(MemorySpace space, int ordinal, Episode episode, Pending pending) {
    if (store == null) {
      pending.publish();
      return;
    }
    if (admitted == null) {
      admitted = new ArrayList<>();
    }
    admitted.add(pending);
    DurableStore.SpaceState state = store.stateOf(space);
    if (state == null) {
      return; // the space was deleted meanwhile: nothing to keep (see DurableStore#stateOf)
    }
    put(
        store.kv().episodes,
        Codec.episodeKey(state.incarnation(), episode.id()),
        Codec.episodeValue(ordinal, episode));
  }

  /** An observation whose id was already stored: its ack waits for the original's write. */
  public void duplicate(MemorySpace space, String id) {
    if (store == null) {
      return;
    }
    barrier = store.committer().issued();
    if (duplicates == null) {
      duplicates = new ArrayList<>();
    }
    duplicates.add(new Duplicate(space, id));
  }

  /**
   * A session has consumed every sequence number up to {@code lastSequence} on {@code space}.
   * Staged last: when the set holds duplicates, the progress is written only once their originals
   * are known to be stored (see {@link #commit}).
   */
  public void sessionProgress(String sessionId, MemorySpace space, long lastSequence) {
    if (store == null) {
      return;
    }
    DurableStore.SpaceState state = store.stateOf(space);
    if (state == null) {
      return; // deleted
    }
    progressKey = Codec.utf8(sessionId);
    progressValue =
        Codec.sessionValue(
            state.incarnation(), lastSequence, store.nowMillis(), space.config().id().value());
  }

  /** An episode forgotten by id. */
  void forgotten(long incarnation, String id) {
    delete(store.kv().episodes, Codec.episodeKey(incarnation, id));
  }

  /**
   * Makes the set durable (per the fsync policy), publishes what it admitted and returns; on
   * failure withdraws what it admitted and throws.
   *
   * <p>A set with duplicates is written in two steps: first its episodes (then its ticket
   * completes, so no writer waits on it), then, once every original is known to be stored, the
   * session's progress. If an original was lost, the progress is not written and the call fails: a
   * resumed session is asked to resend from before the duplicate, so its episode is stored then. A
   * crash between the two steps only makes the client resend numbers that are already stored (they
   * are duplicates by id).
   *
   * @throws StorageFullException if the disk is full
   * @throws StorageFailedException on another storage failure, or if a duplicate's original could
   *     not be stored (this set's own episodes are durable then; its session progress is not)
   */
  public void commit() {
    if (store == null || done) {
      return;
    }
    done = true;
    try {
      try {
        if (duplicates == null && progressKey != null) {
          put(store.kv().sessions, progressKey, progressValue);
        }
        if (batch != null && batch.count() > 0) {
          long t0 = System.nanoTime();
          try {
            store.committer().write(batch);
          } catch (RuntimeException e) {
            store.events().storageCommitted(System.nanoTime() - t0, false);
            throw e;
          }
          store.events().storageCommitted(System.nanoTime() - t0, true);
        }
      } catch (RuntimeException e) {
        withdraw();
        throw e;
      } finally {
        closeBatch();
      }
      publish();
    } finally {
      store.committer().complete(ticket);
    }
    if (duplicates != null) {
      store.committer().awaitDurable(barrier);
      for (Duplicate d : duplicates) {
        if (d.space.ordinalOf(d.id) < 0 && !d.space.isDeleted()) {
          throw new StorageFailedException(
              "episode '%s' could not be stored by the writer that first sent it; resend it"
                  .formatted(d.id));
        }
      }
      if (progressKey != null) {
        try {
          put(store.kv().sessions, progressKey, progressValue);
          store.committer().write(batch);
        } finally {
          closeBatch();
        }
      }
    }
  }

  /** Abandons the set if it was not committed: nothing is written, admissions are withdrawn. */
  @Override
  public void close() {
    if (store == null || done) {
      return;
    }
    done = true;
    try {
      withdraw();
    } finally {
      closeBatch();
      store.committer().complete(ticket);
    }
  }

  void put(ColumnFamilyHandle cf, byte[] key, byte[] value) {
    try {
      store.faults().beforeStage();
      batch().put(cf, key, value);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("preparing a write", e);
    }
  }

  void delete(ColumnFamilyHandle cf, byte[] key) {
    try {
      store.faults().beforeStage();
      batch().delete(cf, key);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("preparing a delete", e);
    }
  }

  void deleteRange(ColumnFamilyHandle cf, byte[] from, byte[] to) {
    try {
      store.faults().beforeStage();
      batch().deleteRange(cf, from, to);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("preparing a delete", e);
    }
  }

  private WriteBatch batch() {
    if (batch == null) {
      batch = new WriteBatch();
    }
    return batch;
  }

  private void publish() {
    if (admitted != null) {
      for (Pending p : admitted) {
        p.publish();
      }
    }
  }

  private void withdraw() {
    if (admitted != null) {
      store.faults().beforeRollback();
      for (Pending p : admitted) {
        p.withdraw();
      }
    }
  }

  private void closeBatch() {
    if (batch != null) {
      batch.close();
      batch = null;
    }
  }
}
