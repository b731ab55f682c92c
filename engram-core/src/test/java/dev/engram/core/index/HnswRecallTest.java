package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Seeded recall floor ({@link #RECALL_FLOOR}) on the clustered recipe: 20,000 × 384-d built by two
 * threads, then 20 % removed. The graph is built once and the tests run in order on it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HnswRecallTest {
  private static final int N = 20_000;
  private static final int DIM = 384;
  private static final int QUERIES = 500;
  private static final int K = 10;

  /**
   * Just under the measured recall@10 at ef 64: over five runs (the two-thread build makes the
   * graph depend on timing) 0.9894-0.9908 after the build, 0.9886-0.9892 after removing 20 %,
   * 0.9876-0.9890 after repair. A third more misses than measured (1.5 % instead of ~1.1 %) fails.
   */
  private static final double RECALL_FLOOR = 0.985;

  private float[][] data;
  private float[][] queries;
  private HnswIndex index;
  private final BitSet removed = new BitSet(N);
  private ExecutorService pool;

  @BeforeAll
  void build() throws Exception {
    ClusteredVectors generator = new ClusteredVectors(DIM, 1000, 2024);
    data = generator.take(N);
    queries = generator.queries(QUERIES);
    index = new HnswIndex(DIM, Metric.COSINE, HnswParams.DEFAULTS, 7);
    pool = Executors.newFixedThreadPool(2);
    Future<?> even = pool.submit(() -> insert(0));
    Future<?> odd = pool.submit(() -> insert(1));
    even.get();
    odd.get();
  }

  private void insert(int parity) {
    // Descending within each thread, so ordinals arrive out of order.
    for (int i = N - 2 + parity; i >= 0; i -= 2) {
      index.add(i, data[i]);
    }
  }

  @AfterAll
  void shutdown() {
    pool.shutdownNow();
  }

  private double recall(int ef) {
    int[][] truth =
        ClusteredVectors.exactTopK(data, i -> !removed.get(i), queries, K, Metric.COSINE);
    int[][] found = new int[QUERIES][];
    for (int q = 0; q < QUERIES; q++) {
      List<SearchHit> hits =
          index.search(queries[q], K, ef, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      found[q] = hits.stream().mapToInt(SearchHit::ordinal).toArray();
      for (int id : found[q]) {
        assertThat(removed.get(id)).as("removed ordinal %d returned", id).isFalse();
      }
    }
    return ClusteredVectors.recall(truth, found, K);
  }

  @Test
  @Order(1)
  void recallAt10_afterConcurrentBuild_atLeastMeasuredFloor() {
    assertThat(index.size()).isEqualTo(N);
    double recall = recall(64);
    System.out.printf("recall@10 ef=64 after build: %.4f%n", recall);
    assertThat(recall).isGreaterThanOrEqualTo(RECALL_FLOOR);
  }

  @Test
  @Order(2)
  void neighbours_layer0_boundedByTwiceM() {
    int maxDegree = HnswParams.DEFAULTS.maxDegree0();
    long total = 0;
    for (int i = 0; i < N; i += 97) {
      int[] neighbours = index.neighbours(i);
      assertThat(neighbours.length).isBetween(1, maxDegree);
      assertThat(neighbours).doesNotContain(i);
      total += neighbours.length;
    }
    assertThat(index.neighbours(N + 5)).isEmpty();
    assertThat(total).isPositive();
    assertThat(index.memoryBytes()).isGreaterThan(4L * N * DIM);
  }

  @Test
  @Order(3)
  void recallAt10_afterRemoving20Percent_atLeastMeasuredFloor() throws InterruptedException {
    SplittableRandom random = new SplittableRandom(99);
    while (removed.cardinality() < N / 5) {
      int id = random.nextInt(N);
      if (!removed.get(id)) {
        assertThat(index.remove(id)).isTrue();
        removed.set(id);
      }
    }
    assertThat(index.size()).isEqualTo(N - N / 5);
    index
        .awaitRepair(); // the removes that crossed the repair fraction started it in the background
    double recall = recall(64);
    System.out.printf(
        "recall@10 ef=64 after 20%% removed: %.4f (tombstones %d)%n", recall, index.tombstones());
    assertThat(recall).isGreaterThanOrEqualTo(RECALL_FLOOR);
    // Automatic repair ran (in the background): at most one repair fraction is still unrepaired.
    assertThat(index.tombstones()).isLessThanOrEqualTo((int) (0.1 * N) + 1);
  }

  @Test
  @Order(4)
  void repair_afterRemovals_noLiveNodeLinksToARemovedOne() {
    index.repair();
    assertThat(index.tombstones()).isZero();
    for (int i = 0; i < N; i++) {
      if (removed.get(i)) {
        continue;
      }
      for (int layer = 0; layer <= index.level(i); layer++) {
        for (int neighbour : index.neighbours(i, layer)) {
          assertThat(removed.get(neighbour)).as("%d links to removed %d", i, neighbour).isFalse();
        }
      }
    }
    double recall = recall(64);
    System.out.printf("recall@10 ef=64 after repair: %.4f%n", recall);
    assertThat(recall).isGreaterThanOrEqualTo(RECALL_FLOOR);
  }
}
