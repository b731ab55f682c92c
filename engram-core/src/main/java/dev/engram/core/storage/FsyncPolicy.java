package dev.engram.core.storage;

/**
 * When an acknowledged write is forced to stable storage. See docs/durability.md for what each
 * policy promises.
 */
public enum FsyncPolicy {
  /**
   * The ack waits for an fsync of the write-ahead log. Concurrent writers share one fsync (a single
   * committer thread writes every pending batch, then syncs once). Survives power loss.
   */
  ALWAYS,
  /**
   * The default. The ack waits until the write-ahead log record has been handed to the operating
   * system (no fsync), so a process crash (kill -9) loses nothing; a background fsync runs at least
   * every 100 ms, so a power loss or kernel crash loses at most that window.
   */
  INTERVAL,
  /**
   * Tests and benchmarks only: no write-ahead log at all. Data reaches disk only when RocksDB
   * flushes a memtable or the server shuts down cleanly; a crash loses everything since the last
   * flush. Acks mean "accepted in memory".
   */
  NEVER;

  /** Parses {@code always}, {@code interval} or {@code never}. */
  public static FsyncPolicy parse(String text) {
    return switch (text) {
      case "always" -> ALWAYS;
      case "interval" -> INTERVAL;
      case "never" -> NEVER;
      default ->
          throw new IllegalArgumentException(
              "fsync policy must be always, interval or never, got '" + text + "'");
    };
  }
}
