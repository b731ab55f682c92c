package dev.engram.core.storage;

import org.rocksdb.RocksDBException;

/**
 * Test-only hooks on the write path; throwing simulates an I/O error or a full disk, blocking opens
 * a race window.
 *
 * <p>Thread-safety: called from session threads and the committer thread concurrently.
 */
@FunctionalInterface
public interface StorageFaults {

  /** Throws to make the next write fail as RocksDB would. */
  void beforeWrite() throws RocksDBException;

  /** Before an operation is added to a write batch; throws to make preparing it fail. */
  default void beforeStage() throws RocksDBException {}

  /** Before a failed write's admissions are withdrawn from memory. */
  default void beforeRollback() {}

  /** No faults. */
  StorageFaults NONE = () -> {};
}
