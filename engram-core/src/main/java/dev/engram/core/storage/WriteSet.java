package dev.engram.core.storage;

import dev.engram.core.model.Episode;
import dev.engram.core.space.MemorySpace;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The durable record of one stream message or unary call: the episodes it admitted, the session's
 * progress, forgets. It becomes one RocksDB {@link WriteBatch} (atomic: all of it survives a crash
 * or none of it), written by {@link #commit} before the caller acknowledges.
 *
 * <p>If the commit fails, every episode admitted into memory under this set is dropped again, so
 * memory never holds what the store lacks, and the failure propagates as {@link
 * StorageFullException} or {@link StorageFailedException}.
 *
 * <p>Duplicates: an observation whose id another writer admitted a moment ago must not be acked
 * before that writer's batch is durable; {@link #duplicate} makes {@link #commit} wait for every
 * write set begun before it.
 *
 * <p>Thread-safety: confined to the thread that began it.
 */
public final class WriteSet {
  private static final WriteSet IN_MEMORY = new WriteSet(null, 0);

  private final DurableStore store;
  private final long ticket;
  private WriteBatch batch;
  private long barrier;
  private List<Admitted> admitted;
  private List<Admitted> duplicates;
  private boolean done;

  private record Admitted(MemorySpace space, int ordinal, String id) {}

  WriteSet(DurableStore store, long ticket) {
    this.store = store;
    this.ticket = ticket;
  }

  long ticket() {
    return ticket;
  }

  static WriteSet inMemory() {
    return IN_MEMORY;
  }

  /** An episode {@code space} admitted under {@code ordinal}: stored with the set. */
  public void admitted(MemorySpace space, int ordinal, Episode episode) {
    if (store == null) {
      return;
    }
    DurableStore.SpaceState state = store.stateOf(space);
    if (state == null) {
      return; // the space was deleted meanwhile; nothing to keep
    }
    long incarnation = state.incarnation();
    barrier = Math.max(barrier, state.definedBy()); // a brand-new space's definition first
    put(
        store.kv().episodes,
        Codec.episodeKey(incarnation, episode.id()),
        Codec.episodeValue(ordinal, episode));
    if (admitted == null) {
      admitted = new ArrayList<>();
    }
    admitted.add(new Admitted(space, ordinal, episode.id()));
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
    duplicates.add(new Admitted(space, -1, id));
  }

  /** A session has consumed every sequence number up to {@code lastSequence} on {@code space}. */
  public void sessionProgress(String sessionId, MemorySpace space, long lastSequence) {
    if (store == null) {
      return;
    }
    DurableStore.SpaceState state = store.stateOf(space);
    if (state == null) {
      return;
    }
    long incarnation = state.incarnation();
    put(
        store.kv().sessions,
        Codec.utf8(sessionId),
        Codec.sessionValue(
            incarnation, lastSequence, store.nowMillis(), space.config().id().value()));
  }

  /** An episode forgotten by id. */
  void forgotten(long incarnation, String id) {
    delete(Codec.episodeKey(incarnation, id));
  }

  /** Adds a raw operation (space definitions, range deletes) to the batch. */
  WriteBatch batch() {
    if (batch == null) {
      batch = new WriteBatch();
    }
    return batch;
  }

  /**
   * Makes the set durable (per the fsync policy) and returns; on failure drops what it admitted and
   * throws.
   *
   * @throws StorageFullException if the disk is full
   * @throws StorageFailedException on another storage failure
   */
  public void commit() {
    if (store == null || done) {
      return;
    }
    done = true;
    try {
      store.committer().commit(ticket, batch);
      if (barrier > 0) {
        store.committer().awaitDurable(barrier);
      }
      if (duplicates != null) {
        for (Admitted d : duplicates) {
          if (d.space.get(d.id) == null && !d.space.isDeleted()) {
            throw new StorageFailedException(
                "episode '%s' could not be stored by the writer that first sent it; resend it"
                    .formatted(d.id));
          }
        }
      }
    } catch (RuntimeException e) {
      rollback();
      throw e;
    } finally {
      if (batch != null) {
        batch.close();
      }
    }
  }

  private void rollback() {
    store.faults().beforeRollback();
    if (admitted != null) {
      for (Admitted a : admitted) {
        a.space.drop(a.ordinal);
      }
    }
  }

  private void put(org.rocksdb.ColumnFamilyHandle cf, byte[] key, byte[] value) {
    try {
      store.faults().beforeStage();
      batch().put(cf, key, value);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("preparing a write", e);
    }
  }

  private void delete(byte[] key) {
    try {
      store.faults().beforeStage();
      batch().delete(store.kv().episodes, key);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("preparing a delete", e);
    }
  }
}
