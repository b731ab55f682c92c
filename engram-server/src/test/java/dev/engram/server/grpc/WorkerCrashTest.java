package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.EngramConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An episode that kills its index worker: the supervisor restarts the worker, retries once, then
 * quarantines the episode and reports it to its session; the other spaces keep indexing and nothing
 * else is lost.
 */
class WorkerCrashTest {
  private static final int DIM = 8;
  @TempDir Path dir;

  @Test
  void poisonEpisode_workerRestartedPoisonQuarantinedRestIndexed() throws Exception {
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
      server.createSpace("victim", DIM, Metric.METRIC_L2);
      server.createSpace("bystander", DIM, Metric.METRIC_L2);
      SplittableRandom random = new SplittableRandom(3);
      try (TestStream victim = server.stream("victim");
          TestStream bystander = server.stream("bystander")) {
        victim.init();
        bystander.init();
        List<Episode> victimEpisodes = new ArrayList<>();
        List<Episode> bystanderEpisodes = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
          victimEpisodes.add(episode(i == 150 ? "poison" : "v" + i, vector(random, DIM)));
          bystanderEpisodes.add(episode("b" + i, vector(random, DIM)));
        }
        for (int i = 0; i < 300; i += 50) {
          victim.observeBatch(i + 1, victimEpisodes.subList(i, i + 50));
          bystander.observeBatch(i + 1, bystanderEpisodes.subList(i, i + 50));
        }
        victim.awaitAccepted(300);
        bystander.awaitAccepted(300);

        // The poison's session hears about it, with its sequence number.
        StreamResponse rejection = victim.await(StreamResponse::hasRejection);
        assertThat(rejection.getRejection().getSequenceNumber()).isEqualTo(151);
        assertThat(rejection.getRejection().getCode()).isEqualTo(Status.Code.INTERNAL.value());
        assertThat(rejection.getRejection().getMessage()).contains("poison", "quarantined");

        // Indexing completes for everything else, in both spaces, and the watermark passes it.
        victim.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == 300);
        bystander.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == 300);
        assertThat(victim.ended).isNotDone();
      }
      var engine = server.server.engine();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> engine.getSpace(SpaceId.of("victim")).indexedCount() == 299);
      assertThat(engine.ingestStats().workerRestarts()).isEqualTo(2);
      assertThat(engine.ingestStats().quarantined()).isEqualTo(1);
      assertThat(engine.ingestStats().depth()).isZero();
      assertThat(engine.getSpace(SpaceId.of("victim")).episodeCount()).isEqualTo(299);
      assertThat(engine.getSpace(SpaceId.of("bystander")).episodeCount()).isEqualTo(300);
      assertThat(engine.getSpace(SpaceId.of("bystander")).indexedCount()).isEqualTo(300);
      assertThat(engine.episode(SpaceId.of("victim"), "poison")).isNull();
      assertThat(engine.episode(SpaceId.of("victim"), "v149")).isNotNull();
      assertThat(engine.episode(SpaceId.of("victim"), "v151")).isNotNull();
    }
  }
}
