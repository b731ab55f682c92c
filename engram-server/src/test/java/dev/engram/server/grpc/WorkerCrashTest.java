package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.embedding;
import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswIndex.InsertProbe.Stage;
import dev.engram.core.index.HnswParams;
import dev.engram.core.ingest.IndexFaultInjector;
import dev.engram.core.model.QuarantinedEpisode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An episode that kills its index worker: the supervisor restarts the worker, retries once, then
 * quarantines the episode and reports it to its session; the other spaces keep indexing and nothing
 * else is lost. The fault is thrown before the insert ({@link IndexFaultInjector}) or inside it,
 * after the ordinal is claimed and partly linked ({@link HnswIndex.InsertProbe}); a quarantine
 * survives a restart, and a fault that happens once is retried into a searchable episode.
 */
class WorkerCrashTest {
  private static final int DIM = 8;
  private static final int N = 300;
  private static final int POISON_AT = 150;
  private static final SpaceId VICTIM = SpaceId.of("victim");
  private static final SpaceId BYSTANDER = SpaceId.of("bystander");

  @TempDir Path dir;

  private final List<Episode> victimEpisodes = new ArrayList<>();
  private final List<Episode> bystanderEpisodes = new ArrayList<>();
  private final AtomicInteger probeThrows = new AtomicInteger();
  // An ordinary unit vector, recognised by value: an outlier would be a poor test of "searchable
  // after the retry", since HNSW's neighbour pruning may leave a far-away node without in-links.
  private float[] poisonVector;

  WorkerCrashTest() {
    SplittableRandom random = new SplittableRandom(3);
    for (int i = 0; i < N; i++) {
      float[] v = vector(random, DIM);
      if (i == POISON_AT) {
        poisonVector = v;
      }
      victimEpisodes.add(episode(i == POISON_AT ? "poison" : "v" + i, v));
      bystanderEpisodes.add(episode("b" + i, vector(random, DIM)));
    }
  }

  /** An engine whose HNSW inserts throw at {@code stage} for the poison, {@code times} times. */
  private EngramConfig throwingInsideAdd(Stage stage, int times) {
    AtomicInteger left = new AtomicInteger(times);
    return EngramConfig.builder()
        .workers(2)
        .indexFactory(
            s ->
                new HnswIndex(
                    s.dimension(),
                    s.metric(),
                    HnswParams.DEFAULTS,
                    1,
                    (at, ordinal, vector) -> {
                      if (at == stage
                          && Arrays.equals(vector, poisonVector)
                          && left.getAndDecrement() > 0) {
                        probeThrows.incrementAndGet();
                        throw new IllegalStateException("injected fault inside add: poison");
                      }
                    }))
        .build();
  }

  /** Streams both spaces' episodes in batches and waits until every one is accepted. */
  private void observeAll(LoopbackServer server, TestStream victim, TestStream bystander) {
    server.createSpace("victim", DIM, Metric.METRIC_L2);
    server.createSpace("bystander", DIM, Metric.METRIC_L2);
    victim.init();
    bystander.init();
    for (int i = 0; i < N; i += 50) {
      victim.observeBatch(i + 1, victimEpisodes.subList(i, i + 50));
      bystander.observeBatch(i + 1, bystanderEpisodes.subList(i, i + 50));
    }
    victim.awaitAccepted(N);
    bystander.awaitAccepted(N);
  }

  /** The poison's session hears about it, with its sequence number; the watermark passes it. */
  private static void assertPoisonRejectedAndRestIndexed(TestStream victim, TestStream bystander) {
    StreamResponse rejection = victim.await(StreamResponse::hasRejection);
    assertThat(rejection.getRejection().getSequenceNumber()).isEqualTo(POISON_AT + 1);
    assertThat(rejection.getRejection().getCode()).isEqualTo(Status.Code.INTERNAL.value());
    assertThat(rejection.getRejection().getMessage()).contains("poison", "quarantined");
    victim.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == N);
    bystander.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == N);
    assertThat(victim.ended).isNotDone();
  }

  private static void awaitIndexed(Engram engine, SpaceId space, long indexed) {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(engine.ingestStats().depth()).as("queue depth").isZero();
              assertThat(engine.getSpace(space).indexedCount()).as("indexed").isEqualTo(indexed);
            });
  }

  private static String top1(Engram engine, SpaceId space, Episode e) {
    var memories =
        engine.recall(space, new RecallQuery("q", "", embedding(e), "", 1, 0, null)).memories();
    return memories.isEmpty() ? null : memories.getFirst().episode().id();
  }

  /** Poison kept (stored, listed) but not indexed or recalled; everything else intact. */
  private void assertQuarantinedAndRestIntact(Engram engine) {
    awaitIndexed(engine, VICTIM, N - 1);
    awaitIndexed(engine, BYSTANDER, N);
    assertThat(engine.ingestStats().depth()).isZero();
    assertThat(engine.quarantined(VICTIM))
        .extracting(QuarantinedEpisode::id)
        .containsExactly("poison");
    assertThat(engine.quarantined(BYSTANDER)).isEmpty();
    assertThat(engine.getSpace(VICTIM).episodeCount()).isEqualTo(N);
    assertThat(engine.episode(VICTIM, "poison")).as("acknowledged, so kept").isNotNull();
    assertThat(top1(engine, VICTIM, victimEpisodes.get(POISON_AT))).isNotEqualTo("poison");
    for (int i = 0; i < N; i += 7) {
      if (i != POISON_AT) {
        assertThat(top1(engine, VICTIM, victimEpisodes.get(i))).isEqualTo("v" + i);
      }
      assertThat(top1(engine, BYSTANDER, bystanderEpisodes.get(i))).isEqualTo("b" + i);
    }
  }

  @Test
  void poisonBeforeIndexing_workerRestartedPoisonQuarantinedRestIndexed_acrossRestart()
      throws Exception {
    EngramConfig config =
        EngramConfig.builder()
            .workers(2)
            .faults(
                (space, id) -> {
                  if (id.equals("poison")) {
                    throw new IllegalStateException("injected fault: poison episode");
                  }
                })
            .build();
    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      try (TestStream victim = server.stream("victim");
          TestStream bystander = server.stream("bystander")) {
        observeAll(server, victim, bystander);
        assertPoisonRejectedAndRestIndexed(victim, bystander);
      }
      Engram engine = server.server.engine();
      assertQuarantinedAndRestIntact(engine);
      assertThat(engine.ingestStats().workerRestarts()).isEqualTo(2);
      assertThat(engine.ingestStats().quarantined()).isEqualTo(1);
    }

    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      Engram engine = server.server.engine();
      assertThat(engine.recovered().quarantined()).isEqualTo(1);
      assertQuarantinedAndRestIntact(engine);
      assertThat(engine.ingestStats().workerRestarts()).isZero();
    }
  }

  @Test
  void poisonInsideAdd_afterClaim_quarantinedAndStaysQuarantinedAcrossRestart() throws Exception {
    EngramConfig config = throwingInsideAdd(Stage.LAYER0_LINKED, Integer.MAX_VALUE);
    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      try (TestStream victim = server.stream("victim");
          TestStream bystander = server.stream("bystander")) {
        observeAll(server, victim, bystander);
        assertPoisonRejectedAndRestIndexed(victim, bystander);
      }
      Engram engine = server.server.engine();
      assertQuarantinedAndRestIntact(engine);
      assertThat(engine.ingestStats().workerRestarts()).isEqualTo(2);
      assertThat(engine.ingestStats().quarantined()).isEqualTo(1);
    }
    assertThat(probeThrows.get()).isEqualTo(2);

    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      Engram engine = server.server.engine();
      assertThat(engine.recovered().quarantined()).isEqualTo(1);
      assertQuarantinedAndRestIntact(engine);
      assertThat(probeThrows.get()).as("recovery did not index the poison again").isEqualTo(2);
      try (TestStream victim = server.stream("victim")) {
        victim.init();
        SplittableRandom random = new SplittableRandom(4);
        Episode later = episode("later", vector(random, DIM));
        victim.observe(1, later); // a new session numbers from 1
        victim.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == 1);
        assertThat(top1(engine, VICTIM, later)).isEqualTo("later");
      }
    }
  }

  @Test
  void faultInsideAddOnce_afterClaim_retryIndexesItAndNothingIsQuarantined() throws Exception {
    try (LoopbackServer server = new LoopbackServer(dir, throwingInsideAdd(Stage.CLAIMED, 1))) {
      try (TestStream victim = server.stream("victim");
          TestStream bystander = server.stream("bystander")) {
        observeAll(server, victim, bystander);
        victim.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == N);
        bystander.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == N);
        assertThat(victim.matching(StreamResponse::hasRejection)).isEmpty();
      }
      Engram engine = server.server.engine();
      awaitIndexed(engine, VICTIM, N);
      assertThat(probeThrows.get()).isEqualTo(1);
      assertThat(engine.ingestStats().workerRestarts()).isEqualTo(1);
      assertThat(engine.ingestStats().quarantined()).isZero();
      assertThat(engine.quarantined(VICTIM)).isEmpty();
      assertThat(top1(engine, VICTIM, victimEpisodes.get(POISON_AT)))
          .as("searchable in the index after the retry")
          .isEqualTo("poison");
    }
  }
}
