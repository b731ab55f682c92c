package dev.engram.core.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswIndex.InsertProbe.Stage;
import dev.engram.core.index.HnswParams;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.QuarantinedEpisode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A poison episode (one whose insert into the index always throws) stays quarantined across
 * restarts, and recovery that meets one quarantines it instead of aborting startup (issue 15, item
 * 7). The poison is recognised by its vector, as a real one would be: it throws inside the HNSW
 * insert, after the claim, both on index workers and during recovery.
 */
class QuarantineRestartTest {
  private static final SpaceId SPACE = SpaceId.of("q");
  private static final int DIM = 8;
  private static final float POISON_MARK = 1000f;

  @TempDir Path dir;

  private volatile boolean poisonArmed = true;
  private final AtomicInteger poisonAttempts = new AtomicInteger();

  private Engram open() {
    EngramConfig config =
        EngramConfig.builder()
            .workers(2)
            .indexFactory(
                s ->
                    new HnswIndex(
                        s.dimension(),
                        s.metric(),
                        HnswParams.DEFAULTS,
                        1,
                        (stage, ordinal, vector) -> {
                          if (stage == Stage.CLAIMED && vector[0] == POISON_MARK) {
                            poisonAttempts.incrementAndGet();
                            if (poisonArmed) {
                              throw new IllegalStateException("injected fault: poison vector");
                            }
                          }
                        }))
            .build();
    return new Engram(config, StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1)));
  }

  private static List<Episode> episodes(int n, int poisonAt) {
    SplittableRandom random = new SplittableRandom(17);
    List<Episode> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      float[] v = new float[DIM];
      for (int d = 0; d < DIM; d++) {
        v[d] = (float) random.nextGaussian();
      }
      String id = "e" + i;
      if (i == poisonAt) {
        v[0] = POISON_MARK;
        id = "poison";
      }
      out.add(new Episode(id, v, "c" + i, Instant.EPOCH, 1f, Map.of()));
    }
    return out;
  }

  private static List<String> top1(Engram engine, Episode e) {
    return engine
        .recall(SPACE, new RecallQuery("q", "", e.embedding(), "", 1, 0, null))
        .memories()
        .stream()
        .map(Memory::episode)
        .map(Episode::id)
        .toList();
  }

  private static void awaitIndexed(Engram engine, long indexed) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                engine.ingestStats().depth() == 0
                    && engine.getSpace(SPACE).indexedCount() == indexed);
  }

  /** Everything but the poison is indexed and is its own nearest neighbour. */
  private static void assertOthersRecallable(Engram engine, List<Episode> all) {
    for (Episode e : all) {
      if (!e.id().equals("poison")) {
        assertThat(top1(engine, e)).as(e.id()).containsExactly(e.id());
      }
    }
  }

  private void deleteGraphSnapshots() throws IOException {
    try (var files = Files.list(dir.resolve("graphs"))) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
  }

  @Test
  void quarantinedOnWorker_staysQuarantinedAcrossRestart_listedAndNeverIndexedAgain()
      throws IOException {
    List<Episode> all = episodes(100, 40);
    Episode poison = all.get(40);
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.remember(SPACE, all);
      await().atMost(Duration.ofSeconds(30)).until(() -> engine.ingestStats().quarantined() == 1);
      awaitIndexed(engine, 99);
      assertThat(engine.quarantined(SPACE))
          .extracting(QuarantinedEpisode::id)
          .containsExactly("poison");
      assertThat(engine.episode(SPACE, "poison")).as("kept: it was acknowledged").isNotNull();
      assertThat(top1(engine, poison)).doesNotContain("poison");
    }
    assertThat(poisonAttempts.get()).isEqualTo(2);
    deleteGraphSnapshots(); // recovery must rebuild the index, meeting the poison again

    try (Engram engine = open()) {
      assertThat(engine.quarantined(SPACE)).hasSize(1);
      QuarantinedEpisode q = engine.quarantined(SPACE).getFirst();
      assertThat(q.id()).isEqualTo("poison");
      assertThat(q.reason()).contains("injected fault: poison vector");
      assertThat(engine.recovered().quarantined()).isEqualTo(1);
      assertThat(poisonAttempts.get()).as("recovery skipped the quarantined episode").isEqualTo(2);
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(100);
      assertThat(engine.getSpace(SPACE).indexedCount()).isEqualTo(99);
      assertThat(engine.remember(SPACE, List.of(poison)).duplicates()).isEqualTo(1);
      assertThat(top1(engine, poison)).doesNotContain("poison");
      assertOthersRecallable(engine, all);

      assertThat(engine.forget(SPACE, List.of("poison"))).isEqualTo(1);
      assertThat(engine.quarantined(SPACE)).isEmpty();
    }

    try (Engram engine = open()) {
      assertThat(engine.quarantined(SPACE)).isEmpty();
      assertThat(engine.episode(SPACE, "poison")).isNull();
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(99);
    }
  }

  @Test
  void recoveryIndexingThrows_startupCompletesAndEpisodeQuarantinedDurably() throws IOException {
    List<Episode> all = episodes(60, 30);
    poisonArmed = false; // not poison yet: indexed fine on the first run
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.remember(SPACE, all);
      awaitIndexed(engine, 60);
    }
    deleteGraphSnapshots();
    poisonArmed = true;
    poisonAttempts.set(0);

    try (Engram engine = open()) {
      assertThat(poisonAttempts.get()).as("tried, retried once, then quarantined").isEqualTo(2);
      assertThat(engine.quarantined(SPACE))
          .extracting(QuarantinedEpisode::id)
          .containsExactly("poison");
      assertThat(engine.recovered().quarantined()).isEqualTo(1);
      assertThat(engine.getSpace(SPACE).indexedCount()).isEqualTo(59);
      assertOthersRecallable(engine, all);
    }
    deleteGraphSnapshots();

    try (Engram engine = open()) {
      assertThat(poisonAttempts.get()).as("the quarantine was durable").isEqualTo(2);
      assertThat(engine.quarantined(SPACE))
          .extracting(QuarantinedEpisode::id)
          .containsExactly("poison");
      assertThat(engine.getSpace(SPACE).indexedCount()).isEqualTo(59);
    }
  }
}
