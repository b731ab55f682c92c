package dev.engram.core.storage;

/**
 * A point-in-time view of the store's size, for metrics and alerts.
 *
 * @param liveDataBytes RocksDB's estimate of live data ({@code rocksdb.estimate-live-data-size})
 * @param walBytes bytes in write-ahead log files
 * @param pendingCompactionBytes RocksDB's estimate of bytes compaction still has to rewrite
 * @param diskBytes bytes the database occupies on disk
 * @param freeBytes bytes free to the server on the data directory's file system
 * @param totalBytes size of that file system
 */
public record StorageStats(
    long liveDataBytes,
    long walBytes,
    long pendingCompactionBytes,
    long diskBytes,
    long freeBytes,
    long totalBytes) {}
