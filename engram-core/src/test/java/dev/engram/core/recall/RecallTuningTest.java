package dev.engram.core.recall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RecallTuningTest {

  @Test
  void with_changesTheNamedSettings_andKeepsTheOthers() {
    RecallTuning t = RecallTuning.defaults().with("fusion=rrf, textWeight=0.25,hops=1");

    assertThat(t.fusion()).isEqualTo(RecallTuning.Fusion.RRF);
    assertThat(t.textWeight()).isEqualTo(0.25f);
    assertThat(t.hops()).isEqualTo(1);
    assertThat(t.depth()).isEqualTo(RecallTuning.defaults().depth());
    assertThat(RecallTuning.defaults().with(t.asMap().toString().replaceAll("[{} ]", "")))
        .isEqualTo(t);
  }

  @Test
  void with_unknownNameOrBadValue_isRefusedNamingIt() {
    assertThatThrownBy(() -> RecallTuning.defaults().with("alpha=1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'alpha=1'")
        .hasMessageContaining("textWeight");
    assertThatThrownBy(() -> RecallTuning.defaults().with("textWeight=1.5"))
        .hasMessageContaining("textWeight must be [0, 1], got 1.5");
    assertThatThrownBy(() -> RecallTuning.defaults().with("fusion=fuzzy"))
        .hasMessageContaining("fusion=fuzzy");
  }
}
