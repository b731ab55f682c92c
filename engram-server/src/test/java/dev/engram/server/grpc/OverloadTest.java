package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small queue (capacity 1,000), slow indexing and a client that ignores every signal: the server
 * signals BACKPRESSURE before it refuses anything, refuses with {@code Resend OVERLOADED}, never
 * lets the queue pass its hard limit, and after the client's resends stores every episode exactly
 * once.
 */
class OverloadTest {
  private static final int CAPACITY = 1_000;
  private static final int TOTAL = 5_000;
  private static final int DIM = 16;
  @TempDir Path dir;

  @Test
  void clientIgnoringSignals_backpressureThenResendOverloaded_everythingStoredOnce()
      throws Exception {
    // Indexing holds still until the client has been refused once, so the queue fills however
    // fast or slow this machine runs the client; then it drains at its own pace.
    AtomicReference<GoBackNClient> clientRef = new AtomicReference<>();
    long holdUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(CAPACITY)
            .workers(1)
            .faults(
                (space, id) -> {
                  while (System.nanoTime() < holdUntil && !refused(clientRef.get())) {
                    LockSupport.parkNanos(1_000_000);
                  }
                })
            .build();
    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      server.createSpace("flood", DIM, Metric.METRIC_DOT);
      SplittableRandom random = new SplittableRandom(7);
      List<Episode> episodes = new ArrayList<>(TOTAL);
      for (int i = 0; i < TOTAL; i++) {
        episodes.add(episode("f" + i, vector(random, DIM)));
      }
      AtomicInteger maxDepth = new AtomicInteger();
      ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
      sampler.scheduleAtFixedRate(
          () -> maxDepth.accumulateAndGet(server.server.engine().ingestStats().depth(), Math::max),
          0,
          1,
          TimeUnit.MILLISECONDS);
      long heapBefore = usedHeap();

      // Single-episode messages and a window far beyond the queue: the client does not listen.
      GoBackNClient client = new GoBackNClient(server.channel, "flood", episodes, 1, 5_000);
      clientRef.set(client);
      client.run(Duration.ofMinutes(2), sent -> {});
      sampler.shutdown();
      long heapGrowth = usedHeap() - heapBefore;

      // BACKPRESSURE came before the first refusal, and refusals are Resend OVERLOADED.
      assertThat(client.signals).isNotEmpty();
      int firstBackpressure = client.signals.indexOf("S:BACKPRESSURE");
      int firstRefusal = client.signals.indexOf("R:RESEND_REASON_OVERLOADED");
      assertThat(firstBackpressure).isNotNegative();
      assertThat(firstRefusal).isGreaterThan(firstBackpressure);
      assertThat(client.resends)
          .extracting(r -> r.getResend().getReason())
          .containsOnly(ResendReason.RESEND_REASON_OVERLOADED);
      // retry_after_ms is the time to drain to the resume limit (1 ms-5 s). At the first refusal
      // nothing has been indexed and the queue is at its hard limit: a real pause is asked for,
      // not the 1 ms floor that means "retry now".
      assertThat(client.resends.getFirst().getResend().getRetryAfterMs())
          .isGreaterThanOrEqualTo(10);
      assertThat(client.resends)
          .allSatisfy(r -> assertThat(r.getResend().getRetryAfterMs()).isBetween(1, 5_000));
      StreamResponse backpressure =
          client.statuses.stream()
              .filter(s -> s.getStatus().getState().name().endsWith("BACKPRESSURE"))
              .findFirst()
              .orElseThrow();
      assertThat(backpressure.getStatus().getPressure()).isGreaterThanOrEqualTo(0.8f);
      assertThat(backpressure.getStatus().getQueueCapacity()).isEqualTo(CAPACITY);

      // The queue never passed its hard limit; heap stayed bounded.
      assertThat(maxDepth.get()).isLessThanOrEqualTo((int) (CAPACITY * 0.9));
      assertThat(heapGrowth).isLessThan(256L << 20);

      // Every episode stored exactly once.
      assertThat(client.accepted()).isEqualTo(TOTAL);
      assertThat(client.rejections).isEmpty();
      var engine = server.server.engine();
      assertThat(engine.getSpace(SpaceId.of("flood")).episodeCount()).isEqualTo(TOTAL);
      for (Episode e : episodes) {
        assertThat(engine.episode(SpaceId.of("flood"), e.getId())).isNotNull();
      }
      client.close();
    }
  }

  private static boolean refused(GoBackNClient client) {
    return client != null && client.signals.contains("R:RESEND_REASON_OVERLOADED");
  }

  private static long usedHeap() {
    System.gc();
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }
}
