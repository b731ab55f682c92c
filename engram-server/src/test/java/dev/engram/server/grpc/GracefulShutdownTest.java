package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shutdown while a stream is open and the queue is not empty: health goes NOT_SERVING, new streams
 * are refused with UNAVAILABLE, the queue drains, and the open stream gets a final ack covering
 * everything before it ends with UNAVAILABLE.
 */
class GracefulShutdownTest {
  private static final int DIM = 8;
  @TempDir Path dir;

  @Test
  void shutdown_openStream_finalAckAfterDrainAndNewStreamsRefused() throws Exception {
    CountDownLatch indexingMayProceed = new CountDownLatch(1);
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .faults(
                (space, id) -> {
                  try {
                    indexingMayProceed.await(10, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                })
            .build();
    LoopbackServer server = new LoopbackServer(dir, config);
    try {
      server.createSpace("notes", DIM, Metric.METRIC_COSINE);
      SplittableRandom random = new SplittableRandom(11);
      TestStream open = server.stream("notes");
      open.init();
      List<Episode> episodes = new ArrayList<>();
      for (int i = 0; i < 500; i++) {
        episodes.add(episode("g" + i, vector(random, DIM)));
      }
      open.observeBatch(1, episodes);
      open.awaitAccepted(500);

      CompletableFuture<Void> shutdown = CompletableFuture.runAsync(server.server::shutdown);
      var health = HealthGrpc.newBlockingStub(server.channel);
      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  health.check(HealthCheckRequest.getDefaultInstance()).getStatus()
                      == ServingStatus.NOT_SERVING);

      // A new stream is refused while the old one drains.
      TestStream late = server.stream("notes");
      late.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("notes")
              .setInit(StreamInit.getDefaultInstance())
              .build());
      assertThat(late.awaitEnd().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(open.ended).isNotDone();

      indexingMayProceed.countDown();
      shutdown.get(30, TimeUnit.SECONDS);
      assertThat(open.awaitEnd().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      List<StreamResponse> acks = open.matching(StreamResponse::hasAck);
      StreamResponse finalAck = acks.getLast();
      assertThat(finalAck.getAck().getAcceptedThrough()).isEqualTo(500);
      assertThat(finalAck.getAck().getIndexedThrough()).isEqualTo(500);
      assertThat(
              open.matching(
                  r -> r.hasStatus() && r.getStatus().getState().name().endsWith("DRAINING")))
          .hasSize(1);
    } finally {
      indexingMayProceed.countDown();
      server.close();
    }
  }
}
