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
}
