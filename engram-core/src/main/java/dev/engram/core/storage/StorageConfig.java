package dev.engram.core.storage;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where and how an engine persists its data.
 *
 * @param dataDir the data directory (created if missing); locked while the engine runs
 * @param fsync when acknowledged writes are forced to disk
 * @param syncInterval for {@link FsyncPolicy#INTERVAL}: the longest time between two fsyncs
 * @param snapshotInterval how often changed graphs are snapshotted (also at shutdown)
 * @param snapshots how vector indexes are written to and read from snapshot files
 * @param faults test-only write fault hook
 * @param writeTimeout how long a write waits for the log (and a duplicate for the write of its
 *     original) before it fails
 * @param payloadCacheBytes the most heap the cache of episode payloads (content and metadata read
 *     back from the store) may take, over all spaces ({@code --payload-cache-mb})
 */
public record StorageConfig(
    Path dataDir,
    FsyncPolicy fsync,
    Duration syncInterval,
    Duration snapshotInterval,
    GraphSnapshots snapshots,
    StorageFaults faults,
    Duration writeTimeout,
    long payloadCacheBytes) {

  public static final Duration DEFAULT_SYNC_INTERVAL = Duration.ofMillis(100);
  public static final Duration DEFAULT_SNAPSHOT_INTERVAL = Duration.ofMinutes(5);
  public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(30);
  public static final long DEFAULT_PAYLOAD_CACHE_BYTES = 256L << 20;

  public StorageConfig {
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(fsync, "fsync");
    Objects.requireNonNull(snapshots, "snapshots");
    Objects.requireNonNull(faults, "faults");
    Objects.requireNonNull(writeTimeout, "writeTimeout");
    if (syncInterval.isNegative() || syncInterval.isZero()) {
      throw new IllegalArgumentException("syncInterval must be positive, got " + syncInterval);
    }
    if (snapshotInterval.isNegative() || snapshotInterval.isZero()) {
      throw new IllegalArgumentException(
          "snapshotInterval must be positive, got " + snapshotInterval);
    }
    if (writeTimeout.isNegative() || writeTimeout.isZero()) {
      throw new IllegalArgumentException("writeTimeout must be positive, got " + writeTimeout);
    }
    if (payloadCacheBytes < 0) {
      throw new IllegalArgumentException(
          "payloadCacheBytes must be 0 or more, got " + payloadCacheBytes);
    }
  }

  /**
   * Defaults: {@code interval} fsync every 100 ms, snapshots every 5 minutes, writes time out after
   * 30 s, a 256 MiB payload cache.
   */
  public static StorageConfig of(Path dataDir) {
    return new StorageConfig(
        dataDir,
        FsyncPolicy.INTERVAL,
        DEFAULT_SYNC_INTERVAL,
        DEFAULT_SNAPSHOT_INTERVAL,
        GraphSnapshots.DEFAULT,
        StorageFaults.NONE,
        DEFAULT_WRITE_TIMEOUT,
        DEFAULT_PAYLOAD_CACHE_BYTES);
  }

  public StorageConfig withFsync(FsyncPolicy policy) {
    return new StorageConfig(
        dataDir,
        policy,
        syncInterval,
        snapshotInterval,
        snapshots,
        faults,
        writeTimeout,
        payloadCacheBytes);
  }

  public StorageConfig withSnapshotInterval(Duration interval) {
    return new StorageConfig(
        dataDir, fsync, syncInterval, interval, snapshots, faults, writeTimeout, payloadCacheBytes);
  }

  public StorageConfig withSnapshots(GraphSnapshots graphSnapshots) {
    return new StorageConfig(
        dataDir,
        fsync,
        syncInterval,
        snapshotInterval,
        graphSnapshots,
        faults,
        writeTimeout,
        payloadCacheBytes);
  }

  public StorageConfig withFaults(StorageFaults storageFaults) {
    return new StorageConfig(
        dataDir,
        fsync,
        syncInterval,
        snapshotInterval,
        snapshots,
        storageFaults,
        writeTimeout,
        payloadCacheBytes);
  }

  public StorageConfig withWriteTimeout(Duration timeout) {
    return new StorageConfig(
        dataDir,
        fsync,
        syncInterval,
        snapshotInterval,
        snapshots,
        faults,
        timeout,
        payloadCacheBytes);
  }

  /** The payload cache's bound in bytes (0: no cache; every read goes to the store). */
  public StorageConfig withPayloadCacheBytes(long bytes) {
    return new StorageConfig(
        dataDir, fsync, syncInterval, snapshotInterval, snapshots, faults, writeTimeout, bytes);
  }
}
