package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceId;
import dev.engram.core.storage.StorageConfig;
import dev.engram.core.telemetry.EngineEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text-only episodes: acknowledged before they are embedded, embedded off the ack path, then
 * indexed.
 */
class EmbedStageTest {
  private static final SpaceId SPACE = SpaceId.of("texts");
  private static final int DIM = 32;

  @TempDir Path dir;

  /** A bag-of-words embedder that waits for its gate to open; texts sharing words are close. */
  static final class GatedEmbedder implements Embedder {
    final CountDownLatch gate;
    final AtomicInteger calls = new AtomicInteger();

    GatedEmbedder(boolean open) {
      gate = new CountDownLatch(open ? 0 : 1);
    }

    @Override
    public String name() {
      return "fake-words";
    }

    @Override
    public int dimension() {
      return DIM;
    }

    @Override
    public List<float[]> embed(List<String> texts) {
      calls.incrementAndGet();
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
      List<float[]> out = new ArrayList<>();
      for (String text : texts) {
        float[] v = new float[DIM];
        v[0] = 0.01f;
        for (String word : text.toLowerCase().split("\\W+")) {
          if (!word.isEmpty()) {
            v[Math.floorMod(word.hashCode(), DIM)] += 1f;
          }
        }
        out.add(v);
      }
      return out;
    }
  }

  /** Records the embed lag the engine reports. */
  static final class LagEvents implements EngineEvents {
    final List<Long> lags = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void embedded(long lagNanos) {
      lags.add(lagNanos);
    }
  }

  private static Episode text(String id, String content) {
    return new Episode(id, new float[0], content, Instant.EPOCH, 0f, Map.of());
  }

  private static RecallQuery cue(String text) {
    return new RecallQuery("q", "", new float[0], text, 3, 0f, null);
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  private static EngramConfig config(GatedEmbedder embedder, EngineEvents events, AtomicLong now) {
    return EngramConfig.builder()
        .workers(1)
        .embedders(Embedders.of(embedder))
        .events(events)
        .nanoClock(now == null ? System::nanoTime : now::get)
        .build();
  }

  @Test
  void textOnlyEpisode_isAckedBeforeEmbedded_thenRecallableByTextCue() throws Exception {
    GatedEmbedder embedder = new GatedEmbedder(false);
    LagEvents events = new LagEvents();
    AtomicLong now = new AtomicLong(1_000_000_000L);
    try (Engram engine = new Engram(config(embedder, events, now))) {
      engine.createSpace(SPACE, 0, Metric.COSINE, "fake-words");
      assertThat(engine.getSpace(SPACE).config().dimension()).isEqualTo(DIM);

      var remembered =
          engine.remember(
              SPACE,
              List.of(
                  text("cat", "the cat sat on the mat"),
                  text("stock", "stock prices fell sharply today")));

      // Acknowledged (remember returned) while the embedder is still shut: stored without a
      // vector, waiting in the embed stage and counted in the queue's depth.
      assertThat(remembered.ids()).containsExactly("cat", "stock");
      assertThat(engine.episode(SPACE, "cat").embedding()).isEmpty();
      assertThat(engine.embedBacklog()).isEqualTo(2);
      assertThat(engine.ingestStats().depth()).isEqualTo(2);
      assertThat(events.lags).isEmpty();

      now.addAndGet(Duration.ofMillis(750).toNanos());
      embedder.gate.countDown();
      await(() -> engine.ingestStats().depth() == 0, "indexing");

      assertThat(engine.embedBacklog()).isZero();
      assertThat(engine.episode(SPACE, "cat").embedding()).hasSize(DIM);
      assertThat(events.lags).hasSize(2).allMatch(lag -> lag >= Duration.ofMillis(750).toNanos());
      List<Memory> hits = engine.recall(SPACE, cue("cat mat")).memories();
      assertThat(hits).isNotEmpty();
      assertThat(hits.get(0).episode().id()).isEqualTo("cat");
    }
  }

  @Test
  void validation_namesTheProblem() {
    try (Engram engine = new Engram(config(new GatedEmbedder(true), EngineEvents.NONE, null))) {
      engine.createSpace(SPACE, 0, Metric.COSINE, "fake-words");
      engine.createSpace(SpaceId.of("vectors"), 4, Metric.COSINE, "");

      assertThatThrownBy(() -> engine.remember(SPACE, List.of(text("blank", " "))))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("neither an embedding nor content");
      assertThatThrownBy(() -> engine.remember(SpaceId.of("vectors"), List.of(text("t", "hi"))))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("has no embedder");
      assertThatThrownBy(() -> engine.recall(SpaceId.of("vectors"), cue("hi")))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("has none");
      assertThatThrownBy(() -> engine.createSpace(SpaceId.of("x"), 0, Metric.COSINE, "nope"))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("[fake-words]");
      assertThatThrownBy(() -> engine.createSpace(SpaceId.of("y"), 7, Metric.COSINE, "fake-words"))
          .isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("32-d");
    }
  }

  @Test
  void restart_reembedsEpisodesStoredWithoutVector() throws Exception {
    StorageConfig storage = StorageConfig.of(dir).withSnapshotInterval(Duration.ofHours(1));
    GatedEmbedder shut = new GatedEmbedder(false);
    try (Engram engine = new Engram(config(shut, EngineEvents.NONE, null), storage)) {
      engine.createSpace(SPACE, 0, Metric.COSINE, "fake-words");
      engine.remember(SPACE, List.of(text("cat", "the cat sat on the mat")));
      await(() -> shut.calls.get() > 0, "the embedder to be called");
    } // stopped while embedding: stored, acked, without a vector

    GatedEmbedder open = new GatedEmbedder(true);
    try (Engram engine = new Engram(config(open, EngineEvents.NONE, null), storage)) {
      assertThat(engine.getSpace(SPACE).config().embedder()).isEqualTo("fake-words");
      await(() -> engine.ingestStats().depth() == 0, "re-embedding and indexing");
      assertThat(open.calls.get()).isPositive();
      assertThat(engine.quarantined(SPACE)).isEmpty();
      assertThat(engine.episode(SPACE, "cat").embedding()).hasSize(DIM);
      assertThat(engine.recall(SPACE, cue("cat mat")).memories())
          .extracting(m -> m.episode().id())
          .containsExactly("cat");
    }

    GatedEmbedder idle = new GatedEmbedder(true);
    try (Engram engine = new Engram(config(idle, EngineEvents.NONE, null), storage)) {
      // The vector was stored after embedding: nothing to embed again.
      assertThat(engine.embedBacklog()).isZero();
      assertThat(engine.episode(SPACE, "cat").embedding()).hasSize(DIM);
      assertThat(idle.calls.get()).isZero();
      // A text cue is embedded with the same model, so it still finds it.
      assertThat(engine.recall(SPACE, cue("cat mat")).memories()).hasSize(1);
      assertThat(idle.calls.get()).isEqualTo(1);
    }
  }
}
