package dev.engram.core.recall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class RankFusionTest {

  @Test
  void fuse_itemInBothRankings_beatsItemsFirstInOne() {
    List<RankFusion.Fused> fused =
        RankFusion.fuse(List.of(new int[] {1, 2, 3}, new int[] {4, 2, 5}), 10);

    assertThat(fused).extracting(RankFusion.Fused::ordinal).containsExactly(2, 1, 4, 3, 5);
    assertThat(fused.getFirst().score()).isCloseTo(2f / 62, within(1e-7f));
    assertThat(fused.get(1).score()).isCloseTo(1f / 61, within(1e-7f));
  }

  @Test
  void fuse_tie_goesToTheBetterSingleRankThenTheLowerOrdinal() {
    // 7: ranks 1 and 4 -> 1/61 + 1/64; 9: ranks 2 and 3 -> 1/62 + 1/63 (smaller); 8: 4 and 1.
    List<RankFusion.Fused> fused =
        RankFusion.fuse(List.of(new int[] {7, 9, 3, 8}, new int[] {8, 3, 9, 7}), 3);

    assertThat(fused).extracting(RankFusion.Fused::ordinal).containsExactly(7, 8, 3);
  }

  @Test
  void fuse_oneRanking_keepsItsOrder_andDepthIsAtLeastFifty() {
    assertThat(RankFusion.fuse(List.of(new int[] {5, 3, 9}), 2))
        .extracting(RankFusion.Fused::ordinal)
        .containsExactly(5, 3);
    assertThat(RankFusion.depth(10)).isEqualTo(50);
    assertThat(RankFusion.depth(200)).isEqualTo(200);
  }

  @Test
  void weighted_scalesEachRankingToItsOwnRange_andWeighsThem() {
    // Vector: 1 (0.9) 2 (0.7) 3 (0.5) -> scaled 1, 0.5, 0; text: 3 (12) 4 (8) 2 (3) -> 1, 5/9, 0.
    List<RankFusion.Fused> fused =
        RankFusion.weighted(
            List.of(new int[] {1, 2, 3}, new int[] {3, 4, 2}),
            List.of(new float[] {0.9f, 0.7f, 0.5f}, new float[] {12f, 8f, 3f}),
            new float[] {0.4f, 0.6f},
            10);

    // 3: 0.4*0 + 0.6*1 = 0.6; 1: 0.4; 4: 0.6*5/9 = 0.333; 2: 0.4*0.5 + 0 = 0.2.
    assertThat(fused).extracting(RankFusion.Fused::ordinal).containsExactly(3, 1, 4, 2);
    assertThat(fused.getFirst().score()).isCloseTo(0.6f, within(1e-6f));
    assertThat(fused.get(2).score()).isCloseTo(0.6f * 5 / 9, within(1e-6f));
    assertThat(fused.get(3).score()).isCloseTo(0.2f, within(1e-6f));
  }

  @Test
  void weighted_rankingWithEqualScores_scalesToOne_andEmptyRankingsAreSkipped() {
    List<RankFusion.Fused> fused =
        RankFusion.weighted(
            List.of(new int[] {5, 6}, new int[0]),
            List.of(new float[] {2f, 2f}, new float[0]),
            new float[] {0.5f, 0.5f},
            1);

    assertThat(fused).extracting(RankFusion.Fused::ordinal).containsExactly(5);
    assertThat(fused.getFirst().score()).isCloseTo(0.5f, within(1e-6f));
  }
}
