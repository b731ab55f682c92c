package dev.engram.core.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallFilter;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceStats;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One copy of each vector, payloads in the store: with a data directory, what a recall, a metadata
 * filter and a read by id return is read back from the index (vectors) and the store (content and
 * metadata), with the payload cache on or off, before and after a restart.
 */
class OneCopyEngramTest {
  private static final SpaceId SPACE = SpaceId.of("onecopy");
  private static final int DIM = 16;
  private static final int N = 60;

  @TempDir Path dir;

  private Engram open(long cacheBytes) {
    return open(cacheBytes, ConsolidationConfig.defaults());
  }

  private Engram open(long cacheBytes, ConsolidationConfig consolidation) {
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .consolidation(consolidation)
            .indexFactory(s -> new HnswIndex(s.dimension(), s.metric(), HnswParams.DEFAULTS, 7))
            .build();
    return new Engram(
        config,
        StorageConfig.of(dir)
            .withSnapshotInterval(Duration.ofHours(1))
            .withPayloadCacheBytes(cacheBytes));
  }

  private static List<Episode> episodes() {
    SplittableRandom random = new SplittableRandom(3);
    List<Episode> out = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      float[] v = new float[DIM];
      for (int d = 0; d < DIM; d++) {
        v[d] = (float) random.nextGaussian() * 3; // not unit length: the space normalises
      }
      out.add(
          new Episode(
              "e" + i,
              v,
              "content of episode " + i,
              Instant.ofEpochSecond(1_000 + i),
              0.5f,
              Map.of("parity", i % 2 == 0 ? "even" : "odd", "n", Integer.toString(i))));
    }
    return out;
  }

  private static void awaitIndexed(Engram engine, int n) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              SpaceStats s = engine.spaceStats().getFirst();
              return s.fresh() == 0 && s.indexed() == n;
            });
  }

  private static void assertWhole(Engram engine, List<Episode> sent) {
    for (Episode e : List.of(sent.get(0), sent.get(17), sent.get(N - 1))) {
      Episode read = engine.episode(SPACE, e.id());
      assertThat(read.content()).isEqualTo(e.content());
      assertThat(read.metadata()).isEqualTo(e.metadata());
      assertThat(read.observedAt()).isEqualTo(e.observedAt());
      assertThat(read.confidence()).isEqualTo(e.confidence());
      // cosine: the stored (and returned) vector is the unit vector of what was sent
      assertThat(read.embedding())
          .containsExactly(VectorMath.normalized(e.embedding()), Offset.offset(1e-6f));
    }
    Episode cue = sent.get(10);
    RecallQuery query =
        new RecallQuery(
            "r",
            SPACE.value(),
            cue.embedding(),
            "",
            5,
            -1f,
            RecallMode.SIMILARITY,
            true,
            new RecallFilter(Map.of("parity", "odd"), null, null));
    List<Memory> memories = engine.recall(SPACE, query).memories();
    assertThat(memories).hasSize(5);
    for (Memory m : memories) {
      int n = Integer.parseInt(m.episode().metadata().get("n"));
      assertThat(n % 2).as(m.episode().id()).isOne();
      assertThat(m.episode().content()).isEqualTo("content of episode " + n);
      assertThat(m.episode().embedding())
          .containsExactly(VectorMath.normalized(sent.get(n).embedding()), Offset.offset(1e-6f));
    }
    RecallQuery even =
        new RecallQuery(
            "r2",
            SPACE.value(),
            cue.embedding(),
            "",
            1,
            -1f,
            RecallMode.SIMILARITY,
            false,
            new RecallFilter(Map.of("parity", "even"), null, null));
    Memory best = engine.recall(SPACE, even).memories().getFirst();
    assertThat(best.episode().id()).isEqualTo("e10"); // the cue itself
    assertThat(best.episode().embedding()).isEmpty();
  }

  @Test
  void recallAndRead_payloadCacheOff_readFromStoreAndIndex_acrossRestart() {
    List<Episode> sent = episodes();
    try (Engram engine = open(0)) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      engine.remember(SPACE, sent);
      assertWhole(engine, sent); // some still in the fresh segment
      awaitIndexed(engine, N);
      assertWhole(engine, sent);
      assertThat(engine.store().payloadCacheStats().bytes()).isZero();
      assertThat(engine.forget(SPACE, List.of("e1"))).isOne();
      assertThat(engine.episode(SPACE, "e1")).isNull();
    }
    try (Engram engine = open(0)) { // recovered: heads from the store, vectors from the snapshot
      awaitIndexed(engine, N - 1);
      assertThat(engine.episode(SPACE, "e1")).isNull();
      assertWhole(engine, sent);
    }
  }

  @Test
  void payloadCache_secondReadIsAHit() {
    List<Episode> sent = episodes();
    // consolidation off: it would read payloads (and move the counters) while the test reads them
    try (Engram engine = open(1 << 20, ConsolidationConfig.off())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      engine.remember(SPACE, sent);
      engine.episode(SPACE, "e5");
      PayloadCacheStats first = engine.store().payloadCacheStats();
      assertThat(engine.episode(SPACE, "e5").content()).isEqualTo("content of episode 5");
      PayloadCacheStats second = engine.store().payloadCacheStats();
      assertThat(second.hits()).isEqualTo(first.hits() + 1);
      assertThat(second.misses()).isEqualTo(first.misses());
      assertThat(second.bytes()).isPositive().isLessThanOrEqualTo(1 << 20);
    }
  }
}
