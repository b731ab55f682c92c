package dev.engram.core.model;

/**
 * A snapshot of a space's definition and counts.
 *
 * @param config the space's definition
 * @param episodeCount episodes stored (accepted and not forgotten)
 * @param indexedCount episodes in the vector index
 */
public record SpaceInfo(SpaceConfig config, long episodeCount, long indexedCount) {}
