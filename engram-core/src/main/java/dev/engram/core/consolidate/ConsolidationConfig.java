package dev.engram.core.consolidate;

/**
 * The consolidation worker's knobs.
 *
 * @param enabled whether the worker runs (off: no edges, no merges, no reinforcement;
 *     consolidated_through stays 0 and {@code ASSOCIATIVE} recall ranks by seeds alone)
 * @param duplicateCosine the cosine at or above which two episodes with near-identical text merge
 * @param similarityFloor the cosine at or above which an index neighbour gets a similarity edge
 * @param neighbours how many index neighbours each new episode looks at
 * @param pauseAt the ingest queue pressure at or above which the worker pauses
 */
public record ConsolidationConfig(
    boolean enabled, float duplicateCosine, float similarityFloor, int neighbours, float pauseAt) {

  public ConsolidationConfig {
    if (!(duplicateCosine > 0f && duplicateCosine <= 1f)) {
      throw new IllegalArgumentException(
          "duplicateCosine must be in (0, 1], got " + duplicateCosine);
    }
    if (!(similarityFloor >= -1f && similarityFloor <= 1f)) {
      throw new IllegalArgumentException(
          "similarityFloor must be in [-1, 1], got " + similarityFloor);
    }
    if (neighbours < 1 || neighbours > Associations.MAX_EDGES) {
      throw new IllegalArgumentException(
          "neighbours must be 1-%d, got %d".formatted(Associations.MAX_EDGES, neighbours));
    }
    if (!(pauseAt > 0f && pauseAt <= 1f)) {
      throw new IllegalArgumentException("pauseAt must be in (0, 1], got " + pauseAt);
    }
  }

  /** On, merging at cosine 0.97, similarity edges from cosine 0.6, 12 neighbours, pause at 0.8. */
  public static ConsolidationConfig defaults() {
    return new ConsolidationConfig(true, 0.97f, 0.6f, 12, 0.8f);
  }

  /** The worker does not run. */
  public static ConsolidationConfig off() {
    return new ConsolidationConfig(false, 0.97f, 0.6f, 12, 0.8f);
  }
}
