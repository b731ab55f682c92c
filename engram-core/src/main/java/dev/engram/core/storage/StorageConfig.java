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
 */
public record StorageConfig(
    Path dataDir,
    FsyncPolicy fsync,
    Duration syncInterval,
    Duration snapshotInterval,
    GraphSnapshots snapshots,
    StorageFaults faults) {

  public static final Duration DEFAULT_SYNC_INTERVAL = Duration.ofMillis(100);
  public static final Duration DEFAULT_SNAPSHOT_INTERVAL = Duration.ofMinutes(5);

  public StorageConfig {
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(fsync, "fsync");
    Objects.requireNonNull(snapshots, "snapshots");
    Objects.requireNonNull(faults, "faults");
    if (syncInterval.isNegative() || syncInterval.isZero()) {
      throw new IllegalArgumentException("syncInterval must be positive, got " + syncInterval);
    }
    if (snapshotInterval.isNegative() || snapshotInterval.isZero()) {
      throw new IllegalArgumentException(
          "snapshotInterval must be positive, got " + snapshotInterval);
    }
  }

  /** Defaults: {@code interval} fsync every 100 ms, snapshots every 5 minutes. */
  public static StorageConfig of(Path dataDir) {
    return new StorageConfig(
        dataDir,
        FsyncPolicy.INTERVAL,
        DEFAULT_SYNC_INTERVAL,
        DEFAULT_SNAPSHOT_INTERVAL,
        GraphSnapshots.DEFAULT,
        StorageFaults.NONE);
  }

  public StorageConfig withFsync(FsyncPolicy policy) {
    return new StorageConfig(dataDir, policy, syncInterval, snapshotInterval, snapshots, faults);
  }

  public StorageConfig withSnapshotInterval(Duration interval) {
    return new StorageConfig(dataDir, fsync, syncInterval, interval, snapshots, faults);
  }

  public StorageConfig withSnapshots(GraphSnapshots graphSnapshots) {
    return new StorageConfig(
        dataDir, fsync, syncInterval, snapshotInterval, graphSnapshots, faults);
  }

  public StorageConfig withFaults(StorageFaults storageFaults) {
    return new StorageConfig(
        dataDir, fsync, syncInterval, snapshotInterval, snapshots, storageFaults);
  }
}
