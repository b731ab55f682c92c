package dev.engram.core.storage;

import org.rocksdb.RocksDBException;

/**
 * Test-only hook called before each write to the store; throwing simulates an I/O error or a full
 * disk.
 *
 * <p>Thread-safety: called from session threads and the committer thread concurrently.
 */
@FunctionalInterface
public interface StorageFaults {

  /** Throws to make the next write fail as RocksDB would. */
  void beforeWrite() throws RocksDBException;

  /** No faults. */
  StorageFaults NONE = () -> {};
}
