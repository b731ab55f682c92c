package dev.engram.core.recall;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallFilter;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.storage.StorageConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text, hybrid and filtered recall through the engine (one accept path, one recall path). */
class HybridRecallTest {
  private static final SpaceId SPACE = SpaceId.of("hybrid");
  private static final int DIM = 8;
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  @TempDir Path dir;

  private static EngramConfig.Builder config() {
    return config(HnswParams.DEFAULTS);
  }

  private static EngramConfig.Builder config(HnswParams params) {
    return EngramConfig.builder()
        .workers(2)
        .indexFactory(s -> new HnswIndex(s.dimension(), s.metric(), params));
  }

  private static float[] vector(Random random) {
    float[] v = new float[DIM];
    for (int d = 0; d < DIM; d++) {
      v[d] = random.nextFloat() * 2 - 1;
    }
    return v;
  }

  private static float[] axis(int d) {
    float[] v = new float[DIM];
    v[d] = 1f;
    return v;
  }

  private static Episode episode(String id, float[] v, String content, int second, String who) {
    return new Episode(id, v, content, T0.plusSeconds(second), 1f, Map.of("speaker", who));
  }

  private static RecallQuery query(float[] v, String text, int k, RecallMode mode) {
    return new RecallQuery("q", "", v, text, k, 0, mode, false, null);
  }

  private static RecallQuery query(
      float[] v, String text, int k, RecallMode mode, RecallFilter filter) {
    return new RecallQuery("q", "", v, text, k, 0, mode, false, filter);
  }

  private static List<String> ids(Engram engine, RecallQuery q) {
    return engine.recall(SPACE, q).memories().stream().map(m -> m.episode().id()).toList();
  }

  private static void awaitIndexed(Engram engine, long n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (engine.getSpace(SPACE).indexedCount() < n) {
      assertThat(System.nanoTime()).as("indexing timed out").isLessThan(deadline);
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  private static void awaitConsolidated(Engram engine, long n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (engine.consolidator().consolidated() < n) {
      assertThat(System.nanoTime()).as("consolidation timed out").isLessThan(deadline);
      Thread.onSpinWait();
    }
  }

  @Test
  void textRecall_rightAfterTheAck_beforeIndexing() throws InterruptedException {
    CountDownLatch release = new CountDownLatch(1);
    EngramConfig cfg =
        config()
            .faults(
                (space, id) -> {
                  try {
                    release.await();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                })
            .build();
    try (Engram engine = new Engram(cfg)) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      engine.remember(
          SPACE,
          List.of(
              episode("a", axis(0), "Melanie painted a sunrise over the lake", 1, "mel"),
              episode("b", axis(1), "Caroline went to a support group", 2, "car")));

      assertThat(engine.getSpace(SPACE).indexedCount()).isZero(); // the worker is held
      assertThat(ids(engine, query(new float[0], "paintings of sunrises", 5, RecallMode.HYBRID)))
          .containsExactly("a");
      assertThat(ids(engine, query(axis(1), "support groups", 5, RecallMode.HYBRID)))
          .startsWith("b");
      release.countDown();
    }
  }

  @Test
  void associative_textOnlyCue_seedsFromText_spreadsToANeighbour_andTheFilterHoldsOverSpreading() {
    try (Engram engine = new Engram(config().build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      // a and b first, so the observed_at edge is a-b whatever order the worker takes them in;
      // c (later still) then links to b, its nearest earlier neighbour, not to a.
      engine.remember(
          SPACE,
          List.of(
              episode("a", axis(0), "Melanie painted a sunrise over the lake", 1, "mel"),
              episode("b", axis(1), "she used watercolours from her aunt", 2, "car")));
      awaitConsolidated(engine, 2);
      engine.remember(SPACE, List.of(episode("c", axis(2), "the bus was late again", 100, "mel")));
      awaitConsolidated(engine, 3);
      // No vector, no embedder: BM25 seeds ("a" only), then activation over the observed_at edge.
      RecallQuery cue = query(new float[0], "sunrise paintings", 2, RecallMode.ASSOCIATIVE);
      assertThat(ids(engine, cue)).containsExactly("a", "b");
      // "b" fails the filter: it is neither returned nor a way through to anything behind it.
      RecallFilter mel = new RecallFilter(Map.of("speaker", "mel"), null, null);
      assertThat(
              ids(engine, query(new float[0], "sunrise paintings", 2, RecallMode.ASSOCIATIVE, mel)))
          .containsExactly("a");
    }
  }

  @Test
  void associative_addSpread_aSeedGainsAQuarterOfItsTimeNeighboursSeedScore_maxKeepsItsOwn() {
    for (String spread : List.of("add", "max")) {
      try (Engram engine =
          new Engram(config().recall(RecallTuning.defaults().with("spread=" + spread)).build())) {
        engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
        // Consolidated one by one, so the observed_at edges (weight 0.5) are p-q, q-s, s-r;
        // orthogonal vectors: no similarity edges.
        List<Episode> timeline =
            List.of(
                episode("p", axis(0), "kite festival tickets", 1, "x"),
                episode("q", axis(1), "the festival kite was red", 2, "x"),
                episode("s", axis(2), "the bus was late again", 500, "x"),
                episode("r", axis(3), "kite festival kite parade", 1000, "x"));
        for (int i = 0; i < timeline.size(); i++) {
          engine.remember(SPACE, List.of(timeline.get(i)));
          awaitConsolidated(engine, i + 1);
        }
        Map<String, Memory> hits = new java.util.HashMap<>();
        for (Memory m :
            engine
                .recall(SPACE, query(new float[0], "kite festival", 4, RecallMode.ASSOCIATIVE))
                .memories()) {
          hits.put(m.episode().id(), m);
        }
        assertThat(hits).containsKeys("p", "q", "r");
        var p = hits.get("p").explanation();
        var q = hits.get("q").explanation();
        // hopDecay 0.5 x time edge 0.5: p gets a quarter of q's seed score (add) or keeps its own.
        float expected =
            spread.equals("add") ? p.seedScore() + 0.25f * q.seedScore() : p.seedScore();
        assertThat(p.activation()).as(spread).isCloseTo(expected, within(1e-5f));
        assertThat(hits.get("s").explanation().seedRank()).as("reached by spreading").isZero();
      }
    }
  }

  @Test
  void textOnlyCue_outsideHybrid_isRefusedWithAClearMessage() {
    try (Engram engine = new Engram(config().build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      assertThatThrownBy(
              () -> engine.recall(SPACE, query(new float[0], "x", 5, RecallMode.SIMILARITY)))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("RECALL_MODE_HYBRID");
    }
  }

  @Test
  void hybrid_byDefault_weighsEachRankingsScaledScores() {
    try (Engram engine = new Engram(config().build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      float[] cue = axis(0);
      engine.remember(
          SPACE,
          List.of(
              episode("v1", new float[] {1f, 0.1f, 0, 0, 0, 0, 0, 0}, "unrelated words", 1, "x"),
              episode("both", new float[] {1f, 0.3f, 0, 0, 0, 0, 0, 0}, "the red kite", 2, "x"),
              episode("v2", new float[] {1f, 0.6f, 0, 0, 0, 0, 0, 0}, "nothing here", 3, "x"),
              episode("t1", new float[] {0, 0, 1f, 0, 0, 0, 0, 0}, "red kite kites red", 4, "x"),
              episode("t2", new float[] {0, 0, 0, 1f, 0, 0, 0, 0}, "a kite", 5, "x")));
      // Each leg alone (all five vectors, the three text matches), with its own scores.
      Map<String, Float> byVector = scores(engine, query(cue, "", 5, RecallMode.HYBRID));
      // "what are" are function words: the BM25 leg searches "red kites" either way.
      Map<String, Float> byText =
          scores(engine, query(new float[0], "what are red kites", 5, RecallMode.HYBRID));
      assertThat(byText).containsOnlyKeys("t1", "both", "t2");

      List<Memory> fused =
          engine.recall(SPACE, query(cue, "what are red kites", 5, RecallMode.HYBRID)).memories();

      RecallTuning t = RecallTuning.defaults();
      assertThat(t.fusion()).isEqualTo(RecallTuning.Fusion.WEIGHTED);
      Map<String, Float> expected = new java.util.HashMap<>();
      for (String id : byVector.keySet()) {
        expected.put(
            id, (1 - t.textWeight()) * scaled(byVector, id) + t.textWeight() * scaled(byText, id));
      }
      assertThat(fused).hasSize(5);
      for (Memory m : fused) {
        assertThat(m.score())
            .as(m.episode().id())
            .isCloseTo(expected.get(m.episode().id()), within(1e-5f));
      }
      assertThat(fused.stream().map(Memory::score).toList())
          .isSortedAccordingTo(java.util.Comparator.reverseOrder());
    }
  }

  private static Map<String, Float> scores(Engram engine, RecallQuery q) {
    Map<String, Float> out = new java.util.HashMap<>();
    for (Memory m : engine.recall(SPACE, q).memories()) {
      out.put(m.episode().id(), m.score());
    }
    return out;
  }

  /** Min-max scaled within the ranking; 0 when missing from it. */
  private static float scaled(Map<String, Float> ranking, String id) {
    if (!ranking.containsKey(id)) {
      return 0f;
    }
    float hi = java.util.Collections.max(ranking.values());
    float lo = java.util.Collections.min(ranking.values());
    return hi > lo ? (ranking.get(id) - lo) / (hi - lo) : 1f;
  }

  @Test
  void hybrid_withRrf_fusesVectorAndTextRankings_byReciprocalRank() {
    try (Engram engine =
        new Engram(config().recall(RecallTuning.defaults().with("fusion=rrf")).build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      // Vector ranking for the cue axis(0): v1 > both > v2 > t1 > t2 (no text match for v1, v2).
      float[] cue = axis(0);
      engine.remember(
          SPACE,
          List.of(
              episode("v1", new float[] {1f, 0.1f, 0, 0, 0, 0, 0, 0}, "unrelated words", 1, "x"),
              episode("both", new float[] {1f, 0.3f, 0, 0, 0, 0, 0, 0}, "the red kite", 2, "x"),
              episode("v2", new float[] {1f, 0.6f, 0, 0, 0, 0, 0, 0}, "nothing here", 3, "x"),
              episode("t1", new float[] {0, 0, 1f, 0, 0, 0, 0, 0}, "red kite kites red", 4, "x"),
              episode("t2", new float[] {0, 0, 0, 1f, 0, 0, 0, 0}, "a kite", 5, "x")));

      List<String> vectorOnly = ids(engine, query(cue, "", 5, RecallMode.HYBRID));
      List<String> textOnly = ids(engine, query(new float[0], "red kites", 5, RecallMode.HYBRID));
      List<Memory> fused =
          engine.recall(SPACE, query(cue, "red kites", 5, RecallMode.HYBRID)).memories();

      assertThat(vectorOnly).startsWith("v1", "both", "v2");
      assertThat(textOnly).containsExactly("t1", "both", "t2");
      // both: vector rank 2, text rank 2 -> 2/62; v1: 1/61; t1: 1/61 (+ its vector rank 4 or 5).
      assertThat(fused.getFirst().episode().id()).isEqualTo("both");
      assertThat(fused.getFirst().score())
          .isEqualTo(2f / 62, org.assertj.core.api.Assertions.within(1e-6f));
      assertThat(fused).hasSize(5);
      assertThat(fused.stream().map(m -> m.episode().id()).toList())
          .containsExactlyInAnyOrder("both", "v1", "t1", "v2", "t2");
    }
  }

  @Test
  void similarity_equalsTheExactIndex_onRandomData() {
    Random random = new Random(11);
    List<Episode> episodes = new ArrayList<>();
    FlatIndex exact = new FlatIndex(DIM, Metric.L2);
    for (int i = 0; i < 3000; i++) {
      float[] v = vector(random);
      episodes.add(episode("e" + i, v, "text " + i, i, "s" + (i % 7)));
    }
    try (Engram engine = new Engram(config().efSearch(400).build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.remember(SPACE, episodes.subList(0, 1500));
      awaitIndexed(engine, 1500);
      engine.remember(SPACE, episodes.subList(1500, 3000)); // part indexed, part fresh
      for (int i = 0; i < episodes.size(); i++) {
        exact.add(i, episodes.get(i).embedding());
      }
      for (int q = 0; q < 50; q++) {
        float[] cue = vector(random);
        List<String> expected =
            exact.search(cue, 10, 10, Float.NEGATIVE_INFINITY, VectorIndex.ALL).stream()
                .map(h -> "e" + h.ordinal())
                .toList();
        assertThat(ids(engine, query(cue, "", 10, RecallMode.SIMILARITY)))
            .as("query %d", q)
            .containsExactlyElementsOf(expected);
      }
    }
  }

  @Test
  void filters_returnKHits_whenKMatch_onTenThousandEpisodes() {
    Random random = new Random(5);
    List<Episode> episodes = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      String who = i % 250 == 3 ? "rare" : "common" + (i % 5); // 40 rare
      episodes.add(episode("e" + i, vector(random), "meeting notes number " + i, i, who));
    }
    // A sparse graph (cheap to build on a shared CI machine); the filter, not the graph, is tested.
    try (Engram engine = new Engram(config(new HnswParams(8, 32, 32)).build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      for (int from = 0; from < episodes.size(); from += 2000) {
        engine.remember(SPACE, episodes.subList(from, from + 2000));
        awaitIndexed(engine, from + 2000);
      }
      awaitIndexed(engine, 10_000);
      RecallFilter rare = new RecallFilter(Map.of("speaker", "rare"), null, null);
      float[] cue = vector(random);
      for (RecallMode mode : RecallMode.values()) {
        String text = mode == RecallMode.HYBRID ? "meeting notes" : "";
        List<Memory> hits = engine.recall(SPACE, query(cue, text, 25, mode, rare)).memories();
        assertThat(hits)
            .as(mode.name())
            .hasSize(25)
            .allMatch(m -> m.episode().metadata().get("speaker").equals("rare"));
      }
      assertThat(
              engine
                  .recall(SPACE, query(new float[0], "notes", 60, RecallMode.HYBRID, rare))
                  .memories())
          .hasSize(40);
      // A time window [1000 s, 1010 s) holds 10 episodes, whatever the cue.
      RecallFilter window = new RecallFilter(Map.of(), T0.plusSeconds(1000), T0.plusSeconds(1010));
      assertThat(ids(engine, query(cue, "", 50, RecallMode.SIMILARITY, window)))
          .containsExactlyInAnyOrder(
              "e1000", "e1001", "e1002", "e1003", "e1004", "e1005", "e1006", "e1007", "e1008",
              "e1009");
      assertThat(ids(engine, query(new float[0], "meeting", 50, RecallMode.HYBRID, window)))
          .hasSize(10);
    }
  }

  @Test
  void filter_withAnEmptyWindow_isRefused() {
    assertThatThrownBy(() -> new RecallFilter(Map.of(), T0, T0))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("observed_after");
  }

  @Test
  void forgetAndDeleteSpace_removeFromTheTextIndex() {
    try (Engram engine = new Engram(config().build())) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      engine.remember(
          SPACE,
          List.of(
              episode("a", axis(0), "violin lesson on tuesday", 1, "x"),
              episode("b", axis(1), "violin concert on friday", 2, "x")));
      RecallQuery violin = query(new float[0], "violin", 5, RecallMode.HYBRID);
      assertThat(ids(engine, violin)).containsExactlyInAnyOrder("a", "b");

      engine.forget(SPACE, List.of("a"));
      assertThat(ids(engine, violin)).containsExactly("b");
      engine.getSpace(SPACE); // still there
      engine.deleteSpace(SPACE);
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      assertThat(ids(engine, violin)).isEmpty();
    }
  }

  @Test
  void recovery_rebuildsTheTextIndex_fromTheStore() {
    StorageConfig storage = StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1));
    try (Engram engine = new Engram(config().build(), storage)) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.COSINE));
      engine.remember(
          SPACE,
          List.of(
              episode("a", axis(0), "the lighthouse keeper", 1, "x"),
              episode("b", axis(1), "a lighthouse at dusk", 2, "y"),
              episode("c", axis(2), "harbour lights", 3, "x")));
      engine.forget(SPACE, List.of("b"));
    }
    try (Engram engine = new Engram(config().build(), storage)) {
      assertThat(ids(engine, query(new float[0], "lighthouses", 5, RecallMode.HYBRID)))
          .containsExactly("a");
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(2);
      RecallFilter x = new RecallFilter(Map.of("speaker", "x"), null, null);
      assertThat(ids(engine, query(new float[0], "lighthouse harbour", 5, RecallMode.HYBRID, x)))
          .containsExactlyInAnyOrder("a", "c");
    }
  }
}
