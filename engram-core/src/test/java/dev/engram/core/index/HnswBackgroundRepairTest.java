package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.util.BitSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The remove that crosses the repair fraction starts the repair on another thread. */
class HnswBackgroundRepairTest {
  private static final int DIM = 16;
  private static final int N = 2_000;

  @Test
  void removePastRepairFraction_repairsInTheBackground_removedNeverReturned()
      throws InterruptedException {
    ClusteredVectors generator = new ClusteredVectors(DIM, 20, 7);
    float[][] data = generator.take(N);
    HnswIndex index = new HnswIndex(DIM, Metric.DOT, new HnswParams(8, 40, 40, 0.1));
    for (int i = 0; i < N; i++) {
      index.add(i, data[i]);
    }
    BitSet removed = new BitSet(N);
    SplittableRandom random = new SplittableRandom(3);
    while (removed.cardinality() < N * 15 / 100) {
      int ordinal = random.nextInt(N);
      if (!removed.get(ordinal)) {
        assertThat(index.remove(ordinal)).isTrue();
        removed.set(ordinal);
      }
    }

    index.awaitRepair();

    assertThat(index.tombstones()).isLessThanOrEqualTo(N / 10 + 1).isLessThan(N * 15 / 100);
    assertThat(index.size()).isEqualTo(N - N * 15 / 100);
    for (float[] query : generator.queries(50)) {
      for (SearchHit hit : index.search(query, 10)) {
        assertThat(removed.get(hit.ordinal())).as("removed %d returned", hit.ordinal()).isFalse();
      }
    }
    int live = 0;
    for (int node = 0; node < N; node++) {
      if (removed.get(node)) {
        continue;
      }
      live++;
      for (int neighbour : index.neighbours(node)) {
        // Repaired lists point only at live nodes; lists still unrepaired may point at removals
        // made after the repair took its count, never at anything outside the graph.
        assertThat(neighbour).isBetween(0, N - 1);
      }
    }
    assertThat(live).isEqualTo(index.size());
  }
}
