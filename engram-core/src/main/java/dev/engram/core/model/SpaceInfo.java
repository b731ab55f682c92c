package dev.engram.core.model;

/**
 * A snapshot of a space's definition and counts.
 *
 * @param config the space's definition
 * @param episodeCount episodes stored (accepted and not forgotten)
 * @param indexedCount episodes in the vector index
 * @param consolidatedCount episodes the consolidation worker has processed (merged ones included)
 */
public record SpaceInfo(
    SpaceConfig config, long episodeCount, long indexedCount, long consolidatedCount) {

  /** A snapshot without consolidation. */
  public SpaceInfo(SpaceConfig config, long episodeCount, long indexedCount) {
    this(config, episodeCount, indexedCount, 0);
  }
}
