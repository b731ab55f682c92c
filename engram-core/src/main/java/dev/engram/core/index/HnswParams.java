package dev.engram.core.index;

/**
 * Construction and search parameters of an {@link HnswIndex}.
 *
 * @param m maximum neighbours per node on layers above 0, and the number of links a new node makes
 *     on each layer; layer 0 allows {@code 2 * m}, as in hnswlib (2–512)
 * @param efConstruction search width while inserting (at least {@code m}, at most 10,000)
 * @param efSearch default search width when a caller passes {@code ef <= 0} (1–10,000)
 * @param repairFraction when removed-but-unrepaired nodes exceed this fraction of the graph, the
 *     {@link HnswIndex#remove} that crosses it starts {@link HnswIndex#repair} on a background
 *     thread (the remove itself does not wait); {@code 0} disables automatic repair (0–1)
 */
public record HnswParams(int m, int efConstruction, int efSearch, double repairFraction) {

  /** M=16, efConstruction=100, efSearch=64, repair at 10 % tombstones. */
  public static final HnswParams DEFAULTS = new HnswParams(16, 100, 64);

  public HnswParams {
    if (m < 2 || m > 512) {
      throw new IllegalArgumentException("m must be in [2, 512], got " + m);
    }
    if (efConstruction < m || efConstruction > 10_000) {
      throw new IllegalArgumentException(
          "efConstruction must be in [m=" + m + ", 10000], got " + efConstruction);
    }
    if (efSearch < 1 || efSearch > 10_000) {
      throw new IllegalArgumentException("efSearch must be in [1, 10000], got " + efSearch);
    }
    if (!(repairFraction >= 0 && repairFraction <= 1)) {
      throw new IllegalArgumentException("repairFraction must be in [0, 1], got " + repairFraction);
    }
  }

  /** Parameters with automatic repair at 10 % tombstones. */
  public HnswParams(int m, int efConstruction, int efSearch) {
    this(m, efConstruction, efSearch, 0.1);
  }

  /** Maximum neighbours of a node on layer 0. */
  public int maxDegree0() {
    return 2 * m;
  }
}
