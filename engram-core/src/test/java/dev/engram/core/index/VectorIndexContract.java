package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The behaviour every {@link VectorIndex} must have. Each implementation's test extends this class;
 * approximate indexes are searched with an {@code ef} large enough to be exact on these small sets.
 */
abstract class VectorIndexContract {
  static final int DIM = 16;
  static final int EF = 400;

  abstract VectorIndex create(int dimension, Metric metric);

  private static float[][] randomVectors(int n, int dim, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[][] out = new float[n][dim];
    for (float[] v : out) {
      for (int i = 0; i < dim; i++) {
        v[i] = (float) random.nextGaussian();
      }
    }
    return out;
  }

  private static float[][] prepare(float[][] data, Metric metric) {
    if (metric != Metric.COSINE) {
      return data;
    }
    float[][] out = new float[data.length][];
    for (int i = 0; i < data.length; i++) {
      out[i] = VectorMath.normalized(data[i]);
    }
    return out;
  }

  private VectorIndex filled(Metric metric, float[][] data) {
    VectorIndex index = create(DIM, metric);
    for (int i = 0; i < data.length; i++) {
      index.add(i, data[i]);
    }
    return index;
  }

  @ParameterizedTest
  @EnumSource(Metric.class)
  void search_smallSet_matchesExactRankingAndScores(Metric metric) {
    float[][] data = prepare(randomVectors(300, DIM, 1), metric);
    VectorIndex index = filled(metric, data);
    float[][] queries = prepare(randomVectors(20, DIM, 2), metric);
    int[][] truth = ClusteredVectors.exactTopK(data, queries, 10, metric);
    for (int q = 0; q < queries.length; q++) {
      List<SearchHit> hits =
          index.search(queries[q], 10, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      assertThat(hits).hasSize(10);
      assertThat(hits.stream().mapToInt(SearchHit::ordinal).toArray()).containsExactly(truth[q]);
      for (SearchHit hit : hits) {
        float expected = VectorMath.score(metric, queries[q], data[hit.ordinal()]);
        assertThat(hit.score()).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-4f));
      }
      assertThat(hits).isSorted();
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = Metric.class,
      names = {"COSINE", "L2"})
  void search_ownVector_isTopHit(Metric metric) {
    float[][] data = prepare(randomVectors(200, DIM, 3), metric);
    VectorIndex index = filled(metric, data);
    for (int i = 0; i < data.length; i += 7) {
      assertThat(
              index
                  .search(data[i], 1, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL)
                  .get(0)
                  .ordinal())
          .isEqualTo(i);
    }
  }

  @Test
  void search_emptyIndex_returnsNothing() {
    VectorIndex index = create(DIM, Metric.COSINE);
    assertThat(index.search(new float[DIM], 5, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL))
        .isEmpty();
    assertThat(index.size()).isZero();
  }

  @Test
  void search_kLargerThanSize_returnsEverything() {
    float[][] data = prepare(randomVectors(5, DIM, 4), Metric.COSINE);
    VectorIndex index = filled(Metric.COSINE, data);
    List<SearchHit> hits = index.search(data[0], 50, 10, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
    assertThat(hits).extracting(SearchHit::ordinal).containsExactlyInAnyOrder(0, 1, 2, 3, 4);
    assertThat(hits.get(0).ordinal()).isZero();
  }

  @Test
  void remove_removedOrdinal_neverReturned() {
    float[][] data = prepare(randomVectors(300, DIM, 5), Metric.COSINE);
    VectorIndex index = filled(Metric.COSINE, data);
    for (int i = 0; i < 300; i += 3) {
      assertThat(index.remove(i)).isTrue();
    }
    assertThat(index.size()).isEqualTo(200);
    for (int i = 0; i < 300; i += 10) {
      List<SearchHit> hits =
          index.search(data[i], 20, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      assertThat(hits).hasSize(20).allSatisfy(h -> assertThat(h.ordinal() % 3).isNotZero());
    }
    assertThat(index.contains(3)).isFalse();
    assertThat(index.contains(4)).isTrue();
  }

  @Test
  void remove_absentOrTwice_returnsFalse() {
    VectorIndex index = create(DIM, Metric.L2);
    assertThat(index.remove(7)).isFalse();
    assertThat(index.remove(100_000)).isFalse();
    index.add(7, new float[DIM]);
    assertThat(index.remove(7)).isTrue();
    assertThat(index.remove(7)).isFalse();
    assertThat(index.size()).isZero();
  }

  @Test
  void remove_everything_searchReturnsNothing() {
    float[][] data = prepare(randomVectors(50, DIM, 6), Metric.COSINE);
    VectorIndex index = filled(Metric.COSINE, data);
    for (int i = 0; i < 50; i++) {
      index.remove(i);
    }
    assertThat(index.search(data[0], 5, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL)).isEmpty();
  }

  @Test
  void search_minScore_dropsWeakerHits() {
    float[][] data = prepare(randomVectors(200, DIM, 7), Metric.COSINE);
    VectorIndex index = filled(Metric.COSINE, data);
    List<SearchHit> all = index.search(data[0], 50, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
    // Halfway between the 10th and 11th scores: a score recomputed after the JIT has compiled the
    // kernel may differ in its last bit, so a threshold equal to a score would be a coin toss.
    float threshold = (all.get(9).score() + all.get(10).score()) / 2;
    assertThat(all.get(9).score() - all.get(10).score()).isGreaterThan(1e-4f);
    List<SearchHit> strong = index.search(data[0], 50, EF, threshold, VectorIndex.ALL);
    assertThat(strong)
        .extracting(SearchHit::ordinal)
        .containsExactlyElementsOf(all.subList(0, 10).stream().map(SearchHit::ordinal).toList());
    assertThat(strong).allSatisfy(h -> assertThat(h.score()).isGreaterThanOrEqualTo(threshold));
    assertThat(index.search(data[0], 5, EF, 1.5f, VectorIndex.ALL)).isEmpty();
  }

  @Test
  void search_filter_returnsOnlyAccepted() {
    float[][] data = prepare(randomVectors(300, DIM, 8), Metric.DOT);
    VectorIndex index = filled(Metric.DOT, data);
    List<SearchHit> hits = index.search(data[1], 10, EF, Float.NEGATIVE_INFINITY, o -> o % 2 == 0);
    assertThat(hits).hasSize(10).allSatisfy(h -> assertThat(h.ordinal() % 2).isZero());
    int[][] truth =
        ClusteredVectors.exactTopK(data, o -> o % 2 == 0, new float[][] {data[1]}, 10, Metric.DOT);
    assertThat(hits).extracting(SearchHit::ordinal).containsExactly(box(truth[0]));
  }

  private static Integer[] box(int[] ids) {
    return java.util.Arrays.stream(ids).boxed().toArray(Integer[]::new);
  }

  @Test
  void add_wrongDimension_rejected() {
    VectorIndex index = create(DIM, Metric.COSINE);
    assertThatThrownBy(() -> index.add(0, new float[DIM + 1]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(DIM + 1));
    assertThat(index.size()).isZero();
    assertThat(index.contains(0)).isFalse();
  }

  @Test
  void search_wrongDimensionOrBadK_rejected() {
    VectorIndex index = create(DIM, Metric.COSINE);
    index.add(0, VectorMath.normalized(randomVectors(1, DIM, 9)[0]));
    assertThatThrownBy(() -> index.search(new float[3], 1, EF, 0f, VectorIndex.ALL))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("3");
    assertThatThrownBy(() -> index.search(new float[DIM], 0, EF, 0f, VectorIndex.ALL))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0");
  }

  @Test
  void add_duplicateOrdinal_rejected() {
    VectorIndex index = create(DIM, Metric.L2);
    float[][] data = randomVectors(2, DIM, 10);
    index.add(3, data[0]);
    assertThatThrownBy(() -> index.add(3, data[1]))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("3");
    assertThat(index.size()).isEqualTo(1);
    assertThat(
            index.search(data[0], 1, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL).get(0).score())
        .isZero();
  }

  @Test
  void add_negativeOrdinal_rejected() {
    VectorIndex index = create(DIM, Metric.L2);
    assertThatThrownBy(() -> index.add(-1, new float[DIM]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
  }

  @Test
  void add_ordinalsOutOfOrderAndSparse_allFound() {
    float[][] data = prepare(randomVectors(6, DIM, 11), Metric.COSINE);
    VectorIndex index = create(DIM, Metric.COSINE);
    int[] ordinals = {5, 4, 5000, 1, 2047, 0};
    for (int i = 0; i < ordinals.length; i++) {
      index.add(ordinals[i], data[i]);
    }
    assertThat(index.size()).isEqualTo(6);
    for (int i = 0; i < ordinals.length; i++) {
      assertThat(index.contains(ordinals[i])).isTrue();
      assertThat(
              index
                  .search(data[i], 1, EF, Float.NEGATIVE_INFINITY, VectorIndex.ALL)
                  .get(0)
                  .ordinal())
          .isEqualTo(ordinals[i]);
    }
    assertThat(index.contains(3)).isFalse();
    assertThat(index.memoryBytes()).isPositive();
  }

  @Test
  void add_cosine_normalisesVectorsAndQueries() {
    VectorIndex index = create(4, Metric.COSINE);
    index.add(0, new float[] {3, 0, 0, 0});
    index.add(1, new float[] {0, 2, 0, 0});
    List<SearchHit> hits = index.search(new float[] {10, 0, 0, 0}, 2, EF, -2f, VectorIndex.ALL);
    assertThat(hits.get(0).ordinal()).isZero();
    assertThat(hits.get(0).score()).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
    assertThat(hits.get(1).score()).isCloseTo(0f, org.assertj.core.data.Offset.offset(1e-6f));
  }

  @ParameterizedTest
  @EnumSource(Metric.class)
  void vector_storedCopy_absentOrRemovedIsNull(Metric metric) {
    float[][] data = prepare(randomVectors(5, DIM, 11), metric);
    VectorIndex index = filled(metric, data);
    float[] read = index.vector(2);
    assertThat(read).containsExactly(data[2], org.assertj.core.data.Offset.offset(1e-6f));
    read[0] = 42f;
    assertThat(index.vector(2)[0]).isNotEqualTo(42f); // a copy, not the stored array
    assertThat(index.vector(7)).isNull();
    assertThat(index.vector(-1)).isNull();
    index.remove(2);
    assertThat(index.vector(2)).isNull();
  }

  @Test
  void vector_cosine_isTheStoredUnitVector() {
    VectorIndex index = create(4, Metric.COSINE);
    index.add(0, new float[] {3, 0, 4, 0});
    assertThat(index.vector(0))
        .containsExactly(
            new float[] {0.6f, 0, 0.8f, 0}, org.assertj.core.data.Offset.offset(1e-6f));
  }
}
