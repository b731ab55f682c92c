package dev.engram.core.ingest;

/**
 * A point-in-time view of the ingest pipeline's counters.
 *
 * @param depth episodes reserved, queued or being indexed
 * @param capacity the queue capacity
 * @param indexed episodes the workers have finished since start
 * @param workerRestarts worker threads the supervisor restarted
 * @param quarantined episodes dropped because they killed a worker twice
 * @param workers number of index workers
 * @param drainRate smoothed episodes indexed per second
 * @param stolen tasks idle workers took from busier ones' queues since start
 */
public record IngestStats(
    int depth,
    int capacity,
    long indexed,
    long workerRestarts,
    long quarantined,
    int workers,
    double drainRate,
    long stolen) {}
