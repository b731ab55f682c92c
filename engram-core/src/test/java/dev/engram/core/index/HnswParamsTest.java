package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.model.Metric;
import org.junit.jupiter.api.Test;

class HnswParamsTest {

  @Test
  void defaults_matchHnswlib() {
    assertThat(HnswParams.DEFAULTS.m()).isEqualTo(16);
    assertThat(HnswParams.DEFAULTS.efConstruction()).isEqualTo(100);
    assertThat(HnswParams.DEFAULTS.efSearch()).isEqualTo(64);
    assertThat(HnswParams.DEFAULTS.maxDegree0()).isEqualTo(32);
  }

  @Test
  void constructor_badValues_messageNamesTheValue() {
    assertThatThrownBy(() -> new HnswParams(1, 100, 64))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("m must be")
        .hasMessageContaining("got 1");
    assertThatThrownBy(() -> new HnswParams(16, 8, 64))
        .hasMessageContaining("efConstruction")
        .hasMessageContaining("got 8");
    assertThatThrownBy(() -> new HnswParams(16, 100, 0))
        .hasMessageContaining("efSearch")
        .hasMessageContaining("got 0");
    assertThatThrownBy(() -> new HnswParams(16, 100, 64, 1.5))
        .hasMessageContaining("repairFraction")
        .hasMessageContaining("got 1.5");
  }

  @Test
  void levels_dependOnlyOnSeedAndOrdinal() {
    HnswIndex a = new HnswIndex(4, Metric.L2, HnswParams.DEFAULTS, 1);
    HnswIndex b = new HnswIndex(4, Metric.L2, HnswParams.DEFAULTS, 1);
    int upper = 0;
    for (int i = 2999; i >= 0; i--) {
      a.add(i, new float[] {i, 0, 0, 0});
    }
    for (int i = 0; i < 3000; i++) {
      b.add(i, new float[] {i, 0, 0, 0});
      assertThat(b.level(i)).isEqualTo(a.level(i));
      upper += a.level(i) > 0 ? 1 : 0;
    }
    // P(level > 0) = 1/M = 1/16.
    assertThat(upper).isBetween(120, 260);
    assertThat(a.level(5000)).isEqualTo(-1);
  }
}
