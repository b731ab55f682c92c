package dev.engram.core.space;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswIndex.InsertProbe.Stage;
import dev.engram.core.index.HnswParams;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class MemorySpaceTest {
  private static final int DIM = 8;
  private static final SpaceConfig CONFIG = new SpaceConfig(SpaceId.of("s"), DIM, Metric.L2);

  private final SplittableRandom random = new SplittableRandom(5);
  private final AtomicInteger failuresLeft = new AtomicInteger();
  private volatile int poison = -1;
  private final MemorySpace space =
      new MemorySpace(
          CONFIG,
          new HnswIndex(
              DIM,
              Metric.L2,
              HnswParams.DEFAULTS,
              1,
              (stage, ordinal, vector) -> {
                if (stage == Stage.CLAIMED
                    && ordinal == poison
                    && failuresLeft.getAndDecrement() > 0) {
                  throw new IllegalStateException("injected fault after claim");
                }
              }),
          64);

  private Episode episode(String id) {
    float[] v = new float[DIM];
    for (int d = 0; d < DIM; d++) {
      v[d] = (float) random.nextGaussian();
    }
    return new Episode(id, v, "", Instant.EPOCH, 1f, Map.of());
  }

  private int admit(Episode e) {
    return ((Admission.Accepted) space.admit(e)).ordinal();
  }

  private List<String> top1(Episode e) {
    return space.recall(e.embedding(), 1, Float.NEGATIVE_INFINITY).stream()
        .map(Memory::episode)
        .map(Episode::id)
        .toList();
  }

  @Test
  void index_addThrowsAfterClaim_episodeStaysRecallableAndRetryIndexesIt() {
    for (int i = 0; i < 50; i++) {
      space.index(admit(episode("e" + i)));
    }
    Episode bad = episode("bad");
    poison = admit(bad);
    failuresLeft.set(1);

    assertThatThrownBy(() -> space.index(poison)).hasMessageContaining("injected fault");
    assertThat(top1(bad)).as("recallable from the fresh segment").containsExactly("bad");
    assertThat(space.freshSize()).isEqualTo(1);

    space.index(poison); // the supervisor's retry

    assertThat(space.freshSize()).isZero();
    assertThat(space.info().indexedCount()).isEqualTo(51);
    assertThat(top1(bad)).as("recallable from the index").containsExactly("bad");
  }

  @Test
  void vector_livesInFreshSegmentThenOnlyInIndex_quarantinedKeepsIt_forgottenLosesIt() {
    Episode e = episode("one-copy");
    int ordinal = admit(e);
    assertThat(space.freshSize()).isOne();
    assertThat(space.episodeAt(ordinal).embedding()).containsExactly(e.embedding());
    space.index(ordinal);
    assertThat(space.freshSize()).isZero();
    assertThat(space.isIndexed(ordinal)).isTrue();
    Episode read = space.get("one-copy"); // the vector read back from the index
    assertThat(read.embedding()).containsExactly(e.embedding());
    read.embedding()[0] = 99f;
    assertThat(space.vector(ordinal)[0]).isEqualTo(e.embedding()[0]); // copies, never the store
    assertThat(space.head(ordinal).id()).isEqualTo("one-copy");
    assertThat(space.quarantine(ordinal, "test")).isTrue();
    assertThat(space.isIndexed(ordinal)).isFalse();
    assertThat(space.get("one-copy").embedding()).containsExactly(e.embedding()); // kept aside
    assertThat(space.forget(List.of("one-copy"))).isOne();
    assertThat(space.get("one-copy")).isNull();
    assertThat(space.vector(ordinal)).isNull();
    assertThat(space.head(ordinal)).isNull();
  }
}
