package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.index.HnswIndex.InsertProbe.Stage;
import dev.engram.core.model.Metric;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An insert that fails after it claimed its ordinal and linked it into layer 0 (issue 15, item 6):
 * the ordinal must not count as present, must never be returned, must not survive a snapshot, and
 * the insert must be retryable.
 */
class HnswPartialInsertTest {
  private static final int DIM = 8;
  private static final int N = 300;
  private static final int POISON = 150;

  @TempDir Path dir;

  private final float[][] data = vectors(N);
  private final AtomicInteger failuresLeft = new AtomicInteger();
  private volatile Stage failAt;
  private final HnswIndex index =
      new HnswIndex(
          DIM,
          Metric.L2,
          new HnswParams(8, 64, 32),
          42,
          (stage, ordinal, vector) -> {
            if (stage == failAt && ordinal == POISON && failuresLeft.getAndDecrement() > 0) {
              throw new IllegalStateException("injected fault at " + stage);
            }
          });

  private static float[][] vectors(int n) {
    SplittableRandom random = new SplittableRandom(11);
    float[][] out = new float[n][DIM];
    for (float[] v : out) {
      for (int d = 0; d < DIM; d++) {
        v[d] = (float) random.nextGaussian();
      }
    }
    return out;
  }

  /** Adds every ordinal but the poison, then fails the poison's insert once. */
  private void addAllWithPoisonFailing(Stage stage) {
    failAt = stage;
    for (int i = 0; i < POISON; i++) {
      index.add(i, data[i]);
    }
    failuresLeft.set(1);
    assertThatThrownBy(() -> index.add(POISON, data[POISON]))
        .hasMessageContaining("injected fault");
    for (int i = POISON + 1; i < N; i++) {
      index.add(i, data[i]);
    }
  }

  private List<Integer> exactSearch(HnswIndex in, float[] query, int k) {
    return in.search(query, k, N, Float.NEGATIVE_INFINITY, VectorIndex.ALL).stream()
        .map(SearchHit::ordinal)
        .toList();
  }

  @ParameterizedTest
  @EnumSource(Stage.class)
  void add_throwsAfterClaim_notContainedNotReturnedNotRemovable(Stage stage) {
    addAllWithPoisonFailing(stage);

    assertThat(index.contains(POISON)).isFalse();
    assertThat(index.vector(POISON)).isNull();
    assertThat(index.size()).isEqualTo(N - 1);
    assertThat(exactSearch(index, data[POISON], N)).doesNotContain(POISON).hasSize(N - 1);
    assertThat(index.remove(POISON)).isFalse();
  }

  @ParameterizedTest
  @EnumSource(Stage.class)
  void add_retriedAfterFailureAfterClaim_isSearchable(Stage stage) {
    addAllWithPoisonFailing(stage);

    index.add(POISON, data[POISON]);

    assertThat(index.contains(POISON)).isTrue();
    assertThat(index.size()).isEqualTo(N);
    assertThat(exactSearch(index, data[POISON], 1)).containsExactly(POISON);
    assertThat(index.search(data[POISON], 1).getFirst().ordinal()).isEqualTo(POISON);
    assertThatThrownBy(() -> index.add(POISON, data[POISON]))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already added");
  }

  @ParameterizedTest
  @EnumSource(Stage.class)
  void repair_afterFailedAdd_noLiveNodeLinksToIt(Stage stage) {
    addAllWithPoisonFailing(stage);

    index.repair();

    for (int i = 0; i < N; i++) {
      for (int layer = 0; layer <= index.level(i); layer++) {
        assertThat(index.neighbours(i, layer))
            .as("node %d layer %d", i, layer)
            .doesNotContain(POISON);
      }
    }
    for (int i = 0; i < N; i++) {
      if (i != POISON) {
        assertThat(exactSearch(index, data[i], 1)).as("top-1 for %d", i).containsExactly(i);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Stage.class)
  void save_afterFailedAdd_snapshotLeavesItOutAndCanStillAddIt(Stage stage) throws Exception {
    addAllWithPoisonFailing(stage);
    Path file = dir.resolve("g.graph");

    index.save(file);
    HnswIndex loaded = HnswIndex.load(file);

    assertThat(loaded.contains(POISON)).isFalse();
    assertThat(loaded.size()).isEqualTo(N - 1);
    assertThat(exactSearch(loaded, data[POISON], N)).doesNotContain(POISON);
    loaded.add(POISON, data[POISON]);
    assertThat(exactSearch(loaded, data[POISON], 1)).containsExactly(POISON);
  }
}
