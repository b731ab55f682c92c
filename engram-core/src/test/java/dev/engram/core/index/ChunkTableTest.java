package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ChunkTableTest {

  @Test
  void ensure_sequentialChunks_tableGrowsLinearlyNotExponentially() {
    // Regression: filling a null slot inside the table used to grow it by half each time.
    ChunkTable<int[]> table = new ChunkTable<>(i -> new int[1]);
    for (int chunk = 0; chunk < 500; chunk++) {
      table.ensure(chunk * ChunkTable.SIZE);
    }
    assertThat(table.created()).isEqualTo(500);
    assertThat(table.slots()).isLessThan(1000);
  }

  @Test
  void ensure_outOfOrder_sameChunkForSameRange() {
    ChunkTable<int[]> table = new ChunkTable<>(i -> new int[] {i});
    int[] high = table.ensure(10 * ChunkTable.SIZE + 3);
    int[] low = table.ensure(2 * ChunkTable.SIZE);
    assertThat(table.get(10 * ChunkTable.SIZE)).isSameAs(high);
    assertThat(table.get(2 * ChunkTable.SIZE + ChunkTable.MASK)).isSameAs(low);
    assertThat(table.get(5 * ChunkTable.SIZE)).isNull();
    assertThat(table.get(100 * ChunkTable.SIZE)).isNull();
    assertThat(low[0]).isEqualTo(2);
  }
}
