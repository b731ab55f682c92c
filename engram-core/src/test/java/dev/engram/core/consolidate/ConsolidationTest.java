package dev.engram.core.consolidate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.Indexes;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.recall.RecallTuning;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The consolidation worker, the association graph, confidence and associative recall. */
class ConsolidationTest {
  private static final SpaceId SPACE = SpaceId.of("assoc");
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path dir;

  private final AtomicLong now = new AtomicLong(T0.toEpochMilli());
  private final InstantSource clock = () -> Instant.ofEpochMilli(now.get());
  private Engram engram;

  @AfterEach
  void close() {
    if (engram != null) {
      engram.close();
    }
  }

  /**
   * An engine whose associative recall keeps a node's best activation ({@code spread=max}), so the
   * temporal scene isolates the edge: under the default additive spread the three mutually similar
   * weak seeds D0-D2 (0.2 each, similarity edges 0.96) add to each other and outrank the lone
   * temporal neighbour B (0.25); HybridRecallTest covers the additive rule.
   */
  private Engram open(StorageConfig storage) {
    return open(storage, Indexes::exact);
  }

  private Engram open(StorageConfig storage, Function<SpaceConfig, VectorIndex> indexes) {
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .indexFactory(indexes)
            .clock(clock)
            .recall(RecallTuning.defaults().with("spread=max"))
            .build();
    engram = new Engram(config, storage);
    return engram;
  }

  private static Episode episode(String id, String text, Instant at, float confidence, float... v) {
    return new Episode(id, v, text, at, confidence, Map.of());
  }

  private void remember(Episode... episodes) {
    long before = engram.consolidator().consolidated();
    engram.remember(SPACE, List.of(episodes));
    await()
        .atMost(WAIT)
        .until(() -> engram.consolidator().consolidated() >= before + episodes.length);
  }

  private List<Memory> recall(RecallMode mode, int k, float... cue) {
    return engram.recall(SPACE, new RecallQuery("r", "", cue, "", k, 0f, mode)).memories();
  }

  private static List<String> ids(List<Memory> memories) {
    return memories.stream().map(m -> m.episode().id()).toList();
  }

  /**
   * A is the answer; B comes right after it in time but points elsewhere; D* are closer to the cue.
   */
  private void temporalScene() {
    engram.createSpace(new SpaceConfig(SPACE, 4, Metric.COSINE));
    remember(
        episode("A", "we booked the flight", T0, 1f, 1, 0, 0, 0),
        episode("B", "the hotel is near the beach", T0.plusSeconds(1), 1f, 0, 1, 0, 0));
    for (int i = 0; i < 3; i++) {
      double angle = 0.3 * i;
      float y = (float) (Math.sqrt(0.96) * Math.cos(angle));
      float z = (float) (Math.sqrt(0.96) * Math.sin(angle));
      remember(
          episode("D" + i, "other " + i, T0.plusSeconds(86_400L * (i + 1)), 1f, 0.2f, 0, y, z));
    }
  }

  @Test
  void associative_findsTemporalNeighbourThatSimilarityMisses() {
    open(null);
    temporalScene();

    assertThat(ids(recall(RecallMode.SIMILARITY, 2, 1, 0, 0, 0))).containsExactly("A", "D0");
    List<Memory> associative = recall(RecallMode.ASSOCIATIVE, 2, 1, 0, 0, 0);
    assertThat(ids(associative)).containsExactly("A", "B");
    Memory b = associative.get(1);
    assertThat(b.explanation().seedScore()).isCloseTo(0f, within(1e-4f)); // vector: unrelated
    assertThat(b.explanation().hops()).isEqualTo(1); // its activation came over the edge from A
    assertThat(b.explanation().activation())
        .isCloseTo(Consolidator.TIME_WEIGHT * 0.5f, within(1e-4f));
    assertThat(associative.get(0).explanation().seedRank()).isEqualTo(1);
  }

  @Test
  void forget_removesEpisodeAndItsEdgesFromTheGraph() {
    open(null);
    temporalScene();
    MemorySpace space = spaceOf();
    int a = space.ordinalOf("A");
    int b = space.ordinalOf("B");
    assertThat(space.associations().node(b).weightTo(a)).isPositive();

    assertThat(engram.forget(SPACE, List.of("A"))).isEqualTo(1);

    assertThat(space.associations().node(a)).isNull();
    assertThat(space.associations().node(b).weightTo(a)).isZero();
    assertThat(ids(recall(RecallMode.ASSOCIATIVE, 5, 1, 0, 0, 0))).doesNotContain("A");
  }

  private MemorySpace spaceOf() {
    return engram.space(SPACE);
  }

  @Test
  void nearDuplicates_mergeOnce_bothIdsResolve() {
    open(null);
    engram.createSpace(new SpaceConfig(SPACE, 4, Metric.COSINE));
    remember(episode("first", "Alice likes green tea.", T0, 0.5f, 1, 0.1f, 0, 0));
    remember(episode("second", "alice likes green tea", T0.plusSeconds(5), 0.5f, 1, 0.11f, 0, 0));
    remember(episode("other", "Alice likes green tea.", T0, 0.5f, 0, 0, 1, 0)); // text, not vector

    assertThat(engram.consolidator().merged()).isEqualTo(1);
    List<Memory> memories = recall(RecallMode.ASSOCIATIVE, 3, 1, 0.1f, 0, 0);
    assertThat(ids(memories)).containsExactly("first", "other");
    assertThat(memories.get(0).aliases()).containsExactly("second");
    assertThat(memories.get(0).confidence()).isCloseTo(0.75f, within(1e-4f)); // 1-(1-.5)(1-.5)
    assertThat(ids(recall(RecallMode.SIMILARITY, 3, 1, 0.1f, 0, 0)))
        .containsExactly("first", "other");
    assertThat(engram.episode(SPACE, "first")).isNotNull();
    assertThat(engram.episode(SPACE, "second")).isNotNull();
    assertThat(engram.getSpace(SPACE).consolidatedCount()).isEqualTo(3);
    // The merged one left the index but counts as indexed: a client waiting for indexed_count to
    // reach episode_count is not left waiting.
    assertThat(engram.getSpace(SPACE).indexedCount()).isEqualTo(3);

    // Forgetting the memory forgets the near-duplicate merged into it.
    assertThat(engram.forget(SPACE, List.of("first"))).isEqualTo(2);
    assertThat(engram.episode(SPACE, "second")).isNull();
    assertThat(engram.getSpace(SPACE).indexedCount()).isEqualTo(1);
  }

  /**
   * A near-duplicate merged before the final graph snapshot is a removed node in that snapshot;
   * recovery must not try to index it again (it was quarantined as "already added").
   */
  @Test
  void mergedNearDuplicate_inGraphSnapshot_isNotQuarantinedAfterRestart() {
    StorageConfig storage = StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1));
    open(storage, Indexes::hnsw);
    engram.createSpace(new SpaceConfig(SPACE, 4, Metric.COSINE));
    remember(episode("first", "Alice likes green tea.", T0, 0.5f, 1, 0.1f, 0, 0));
    remember(episode("second", "alice likes green tea", T0.plusSeconds(5), 0.5f, 1, 0.11f, 0, 0));
    assertThat(engram.consolidator().merged()).isEqualTo(1);
    engram.close(); // writes the final graph snapshot, "second" removed in it
    engram = null;

    open(storage, Indexes::hnsw);
    assertThat(engram.recovered().quarantined()).isZero();
    assertThat(engram.episode(SPACE, "second")).isNotNull();
    List<Memory> memories = recall(RecallMode.ASSOCIATIVE, 2, 1, 0.1f, 0, 0);
    assertThat(ids(memories)).containsExactly("first");
    assertThat(memories.get(0).aliases()).containsExactly("second");
    assertThat(engram.getSpace(SPACE).indexedCount()).isEqualTo(2);
  }

  @Test
  void confidence_decaysByHalfLife_andRecallReinforces() {
    open(null);
    engram.createSpace(
        new SpaceConfig(SPACE, 4, Metric.COSINE).withHalfLife(Duration.ofSeconds(100)));
    remember(episode("m", "a fact", T0, 0.8f, 1, 0, 0, 0));
    MemorySpace space = spaceOf();
    int m = space.ordinalOf("m");

    now.addAndGet(100_000); // one half-life
    Memory recalled = recall(RecallMode.ASSOCIATIVE, 1, 1, 0, 0, 0).getFirst();
    assertThat(recalled.confidence()).isCloseTo(0.4f, within(1e-4f));
    assertThat(recalled.explanation().confidence()).isCloseTo(0.4f, within(1e-4f));

    // The recall reinforces it (off the recall path): 0.4 moves a quarter of the way to 1.
    float reinforced = 0.4f + 0.6f * Associations.REINFORCE_RATE;
    await()
        .atMost(WAIT)
        .until(
            () -> Math.abs(space.associations().confidence(m, now.get(), 0) - reinforced) < 1e-4);
    now.addAndGet(200_000); // two more half-lives
    assertThat(space.associations().confidence(m, now.get(), 0))
        .isCloseTo(reinforced / 4, within(1e-4f));
  }

  @Test
  void edgesAndConfidence_surviveRestart() {
    StorageConfig storage =
        StorageConfig.of(dir)
            .withFsync(FsyncPolicy.ALWAYS)
            .withSnapshotInterval(Duration.ofHours(1));
    open(storage);
    temporalScene();
    remember(episode("A2", "We booked the flight!", T0.plusSeconds(2), 1f, 1, 0.001f, 0, 0));
    MemorySpace space = spaceOf();
    Associations.Node before = space.associations().node(space.ordinalOf("B"));
    float weightBefore = before.weightTo(space.ordinalOf("A"));
    engram.close();
    engram = null;

    open(storage);
    MemorySpace again = spaceOf();
    assertThat(again.associations().node(again.ordinalOf("B")).weightTo(again.ordinalOf("A")))
        .isEqualTo(weightBefore);
    assertThat(again.associations().node(again.ordinalOf("A")).aliases())
        .containsExactly(again.ordinalOf("A2"));
    assertThat(ids(recall(RecallMode.ASSOCIATIVE, 2, 1, 0, 0, 0))).containsExactly("A", "B");
    assertThat(ids(recall(RecallMode.SIMILARITY, 2, 1, 0, 0, 0))).containsExactly("A", "D0");
  }

  @Test
  void worker_pausesWhileQueuePressureIsHigh() {
    AtomicReference<Double> pressure = new AtomicReference<>(0.85);
    SpaceConfig config = new SpaceConfig(SPACE, 4, Metric.COSINE);
    MemorySpace space = new MemorySpace(config, Indexes.exact(config), 10);
    space.admit(episode("x", "", T0, 1f, 1, 0, 0, 0));
    space.index(0);
    try (Consolidator worker =
        new Consolidator(
            ConsolidationConfig.defaults(), clock, pressure::get, AssociationSink.NONE)) {
      worker.indexed(space, 0, 1, IndexCallback.NONE);
      await().atMost(WAIT).until(worker::paused);
      assertThat(worker.consolidated()).isZero();
      assertThat(worker.backlog()).isEqualTo(1);
      assertThat(space.associations().contains(0)).isFalse();

      pressure.set(0.5);
      await().atMost(WAIT).until(() -> worker.consolidated() == 1);
      assertThat(worker.paused()).isFalse();
      assertThat(worker.pauses()).isGreaterThanOrEqualTo(1);
      assertThat(space.associations().contains(0)).isTrue();
    }
  }
}
