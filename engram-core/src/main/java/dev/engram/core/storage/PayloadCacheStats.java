package dev.engram.core.storage;

/**
 * The payload cache's state, for metrics.
 *
 * @param bytes the estimated heap bytes the cached payloads take
 * @param capacityBytes the cache's bound ({@code --payload-cache-mb})
 * @param hits reads the cache answered since start
 * @param misses reads that went to the store since start
 */
public record PayloadCacheStats(long bytes, long capacityBytes, long hits, long misses) {}
