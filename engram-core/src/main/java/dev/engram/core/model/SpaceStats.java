package dev.engram.core.model;

/**
 * A space's counts and sizes, for metrics.
 *
 * @param id the space
 * @param episodes episodes stored (accepted and not forgotten)
 * @param indexed episodes in the vector index
 * @param fresh episodes searchable but not yet in the index (the fresh segment)
 * @param indexMemoryBytes approximate heap and off-heap bytes held by the index
 */
public record SpaceStats(
    SpaceId id, long episodes, long indexed, int fresh, long indexMemoryBytes) {}
