package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.engram.core.EngramConfig;
import dev.engram.core.Indexes;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.ResendReason;
import dev.engram.server.EngramServer;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stream SDK against a real server over loopback gRPC, with a chaos proxy in between where the
 * network must misbehave. The invariant every test ends on: each observation is stored exactly
 * once.
 */
class EngramStreamTest {
  private static final int DIM = 16;

  @TempDir Path dataDir;

  private EngramServer server;
  private ChaosProxy proxy;
  private EngramClient client;
  private EngramClient direct;

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      client.close();
    }
    if (direct != null) {
      direct.close();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private void startServer(EngramConfig config, String... spaces) throws Exception {
    server = EngramServer.start(0, dataDir, config);
    for (String s : spaces) {
      server.engine().createSpace(new SpaceConfig(SpaceId.of(s), DIM, Metric.COSINE));
    }
    direct = EngramClient.builder().target("127.0.0.1:" + server.grpcPort()).build();
  }

  private long stored(String space) {
    return server.engine().getSpace(SpaceId.of(space)).episodeCount();
  }

  @Test
  void stream_connectionsCutAtRandom_everyObservationStoredOnce() throws Exception {
    startServer(EngramConfig.builder().workers(1).build(), "chaos");
    // ~115 bytes per observation, ~11 MB in all: a cut every 1-3 MB is 4-10 cuts per run.
    proxy = new ChaosProxy(server.grpcPort(), 42, 1_000_000, 3_000_000);
    client = EngramClient.builder().target(proxy.target()).build();
    AtomicLong ackedThrough = new AtomicLong(-1);
    List<Rejected> rejections = new CopyOnWriteArrayList<>();
    AtomicInteger connects = new AtomicInteger();
    StreamListener listener =
        new StreamListener() {
          @Override
          public void onAcknowledged(long acceptedThrough, long indexedThrough) {
            ackedThrough.accumulateAndGet(acceptedThrough, Math::max);
          }

          @Override
          public void onRejected(Rejected r) {
            rejections.add(r);
          }

          @Override
          public void onConnected(String sessionId, boolean resumed) {
            connects.incrementAndGet();
          }
        };
    int n = 100_000;
    Random random = new Random(7);
    float[][] vectors = new float[n][];
    try (EngramStream stream =
        client.openStream(
            "chaos",
            StreamOptions.builder()
                .bufferSize(4096)
                .backoff(Duration.ofMillis(5), Duration.ofMillis(200))
                .jitterSeed(1)
                .listener(listener)
                .build())) {
      for (int i = 0; i < n; i++) {
        vectors[i] = TestData.unitVector(random, DIM);
        // Even observations carry their own id; odd ones get an SDK-generated one.
        String id = i % 2 == 0 ? "e-" + i : "";
        try {
          stream.observe(TestData.episode(id, vectors[i], "c-" + i));
        } catch (BufferFullException e) {
          throw new AssertionError(
              "stalled at %d: %s %s, proxy cuts %d, server session next %d, queue %s"
                  .formatted(
                      i,
                      stream.stats(),
                      stream.debugState(),
                      proxy.cuts(),
                      server.engine().sessions().session(stream.stats().sessionId()).nextSequence(),
                      server.engine().ingestStats()),
              e);
        }
        assertThat(stream.stats().inFlight()).isLessThanOrEqualTo(4096);
      }
      assertThat(stream.close(Duration.ofSeconds(60))).isTrue();
      StreamStats stats = stream.stats();
      assertThat(stats.acked()).isEqualTo(n);
      assertThat(stats.inFlight()).isZero();
      assertThat(stats.rejected()).isZero();
      assertThat(stats.reconnects()).isPositive();
      assertThat(connects.get()).isGreaterThan(1);
    }
    assertThat(proxy.cuts()).isGreaterThanOrEqualTo(3);
    assertThat(rejections).isEmpty();
    assertThat(ackedThrough.get()).isEqualTo(n - 1);

    // Exactly once: the count matches, every named one is there, and a sample of the unnamed
    // ones is found by its own vector.
    assertThat(stored("chaos")).isEqualTo(n);
    for (int i = 0; i < n; i += 2) {
      assertThat(server.engine().episode(SpaceId.of("chaos"), "e-" + i)).isNotNull();
    }
    Random pick = new Random(3);
    int found = 0;
    int sample = 200;
    for (int s = 0; s < sample; s++) {
      int i = 2 * pick.nextInt(n / 2) + 1;
      RecallResponse r = direct.recall("chaos", vectors[i], 1);
      if (r.getMemoriesCount() == 1
          && r.getMemories(0).getEpisode().getContent().equals("c-" + i)) {
        found++;
      }
    }
    assertThat(found).isGreaterThanOrEqualTo(sample * 98 / 100);
  }

  @Test
  void buffer_serverStopsAnswering_inFlightNeverExceedsBound() throws Exception {
    startServer(EngramConfig.builder().workers(1).build(), "stalled");
    proxy = new ChaosProxy(server.grpcPort(), 1, 0, 0);
    client = EngramClient.builder().target(proxy.target()).build();
    int bound = 500;
    Random random = new Random(11);
    try (EngramStream failFast =
            client.openStream(
                "stalled", StreamOptions.builder().bufferSize(bound).failWhenFull().build());
        EngramStream blocking =
            client.openStream(
                "stalled",
                StreamOptions.builder()
                    .bufferSize(bound)
                    .blockWhenFull(Duration.ofMillis(200))
                    .build())) {
      await().atMost(Duration.ofSeconds(10)).until(() -> failFast.stats().connected());
      await().atMost(Duration.ofSeconds(10)).until(() -> blocking.stats().connected());
      proxy.pauseServerToClient(true);

      int taken = 0;
      while (failFast.tryObserve(
          TestData.episode("f-" + taken, TestData.unitVector(random, DIM), ""))) {
        taken++;
        assertThat(failFast.stats().inFlight()).isLessThanOrEqualTo(bound);
        assertThat(taken).isLessThanOrEqualTo(bound);
      }
      assertThat(taken).isEqualTo(bound);
      assertThatThrownBy(
              () -> failFast.observe(TestData.episode("f-x", TestData.unitVector(random, DIM), "")))
          .isInstanceOf(BufferFullException.class)
          .hasMessageContaining("500");

      for (int i = 0; i < bound; i++) {
        blocking.observe(TestData.episode("b-" + i, TestData.unitVector(random, DIM), ""));
      }
      long start = System.nanoTime();
      assertThatThrownBy(
              () -> blocking.observe(TestData.episode("b-x", TestData.unitVector(random, DIM), "")))
          .isInstanceOf(BufferFullException.class)
          .hasMessageContaining("PT0.2S");
      assertThat(System.nanoTime() - start)
          .isGreaterThanOrEqualTo(Duration.ofMillis(150).toNanos());
      assertThat(failFast.stats().inFlight()).isEqualTo(bound);
      assertThat(blocking.stats().inFlight()).isEqualTo(bound);

      proxy.pauseServerToClient(false);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> failFast.stats().inFlight() == 0 && blocking.stats().inFlight() == 0);
      assertThat(failFast.tryObserve(TestData.episode("f-y", TestData.unitVector(random, DIM), "")))
          .isTrue();
      assertThat(failFast.close(Duration.ofSeconds(20))).isTrue();
      assertThat(blocking.close(Duration.ofSeconds(20))).isTrue();
    }
    assertThat(stored("stalled")).isEqualTo(2L * bound + 1);
  }

  @Test
  void stream_tinyServerQueue_resendsOnOverloadAndStoresOnce() throws Exception {
    // A slow index (HNSW at 128-d is not needed: the fault hook slows each insert) and a queue of
    // 100, so the server runs out of room and answers Resend OVERLOADED.
    startServer(
        EngramConfig.builder()
            .queueCapacity(100)
            .workers(1)
            .indexFactory(Indexes::exact)
            .faults((space, id) -> java.util.concurrent.locks.LockSupport.parkNanos(20_000))
            .build(),
        "tiny");
    client = direct;
    AtomicInteger overloaded = new AtomicInteger();
    AtomicInteger backpressure = new AtomicInteger();
    StreamListener listener =
        new StreamListener() {
          @Override
          public void onResend(long fromTicket, ResendReason reason, int retryAfterMillis) {
            if (reason == ResendReason.RESEND_REASON_OVERLOADED) {
              overloaded.incrementAndGet();
            }
          }

          @Override
          public void onStatus(dev.engram.proto.v1.StreamStatus status) {
            if (status.getState() == dev.engram.proto.v1.StreamState.STREAM_STATE_BACKPRESSURE) {
              backpressure.incrementAndGet();
            }
          }
        };
    int n = 5_000;
    Random random = new Random(5);
    StreamStats stats;
    try (EngramStream stream =
        client.openStream("tiny", StreamOptions.builder().listener(listener).build())) {
      for (int i = 0; i < n; i++) {
        stream.observe(TestData.episode("t-" + i, TestData.unitVector(random, DIM), ""));
      }
      assertThat(stream.close(Duration.ofSeconds(60))).isTrue();
      stats = stream.stats();
    }
    assertThat(overloaded.get()).isPositive();
    assertThat(stats.resent()).isPositive();
    assertThat(stats.acked()).isEqualTo(n);
    assertThat(stored("tiny")).isEqualTo(n);
    for (int i = 0; i < n; i++) {
      assertThat(server.engine().episode(SpaceId.of("tiny"), "t-" + i)).isNotNull();
    }
  }

  @Test
  void stream_badObservation_rejectedAndReportedOthersStored() throws Exception {
    startServer(EngramConfig.builder().workers(1).build(), "mixed");
    client = direct;
    List<Rejected> rejections = new CopyOnWriteArrayList<>();
    Random random = new Random(9);
    float[] probe = TestData.unitVector(random, DIM);
    try (EngramStream stream =
        client.openStream(
            "mixed",
            StreamOptions.builder()
                .listener(
                    new StreamListener() {
                      @Override
                      public void onRejected(Rejected r) {
                        rejections.add(r);
                      }
                    })
                .build())) {
      stream.observe(TestData.episode("ok-1", TestData.unitVector(random, DIM), ""));
      long bad = stream.observe(TestData.episode("bad", new float[DIM + 1], "wrong dimension"));
      stream.observe(TestData.episode("probe", probe, "probe"));
      // Sent after the probe on the same stream: it reads its own write.
      RecallResponse r = stream.recall(probe, 1).get();
      assertThat(r.getMemories(0).getEpisode().getId()).isEqualTo("probe");
      assertThat(stream.close(Duration.ofSeconds(10))).isTrue();
      assertThat(rejections).hasSize(1);
      assertThat(rejections.get(0).ticket()).isEqualTo(bad);
      assertThat(rejections.get(0).episode().getId()).isEqualTo("bad");
      assertThat(rejections.get(0).code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(stream.stats().rejected()).isEqualTo(1);
      assertThat(stream.stats().acked()).isEqualTo(2);
    }
    assertThat(stored("mixed")).isEqualTo(2);
  }

  @Test
  void stream_unknownSpace_failsWithNotFound() throws Exception {
    startServer(EngramConfig.builder().workers(1).build());
    client = direct;
    EngramStream stream = client.openStream("nowhere");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> stream.stats().observed() == 0 && failed(stream));
    assertThatThrownBy(() -> stream.observe(Episode.getDefaultInstance()))
        .isInstanceOf(StreamFailedException.class)
        .hasMessageContaining("nowhere");
    assertThat(stream.close(Duration.ofSeconds(1))).isFalse();
  }

  private static boolean failed(EngramStream stream) {
    try {
      stream.tryObserve(Episode.getDefaultInstance());
      return false;
    } catch (StreamFailedException e) {
      return e.status().getCode() == Status.Code.NOT_FOUND;
    }
  }

  @Test
  void stream_serverRestartsMidRun_everyObservationStoredOnce() throws Exception {
    startServer(EngramConfig.builder().workers(1).build(), "restart");
    int port = server.grpcPort();
    client = EngramClient.builder().target("127.0.0.1:" + port).build();
    int n = 20_000;
    Random random = new Random(13);
    try (EngramStream stream =
        client.openStream(
            "restart",
            StreamOptions.builder()
                .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
                .build())) {
      for (int i = 0; i < n; i++) {
        if (i == n / 2) {
          server.close();
          server = EngramServer.start(port, dataDir, EngramConfig.builder().workers(1).build());
        }
        stream.observe(TestData.episode("r-" + i, TestData.unitVector(random, DIM), ""));
      }
      assertThat(stream.close(Duration.ofSeconds(60))).isTrue();
      assertThat(stream.stats().reconnects()).isPositive();
    }
    assertThat(stored("restart")).isEqualTo(n);
    for (int i = 0; i < n; i++) {
      assertThat(server.engine().episode(SpaceId.of("restart"), "r-" + i)).isNotNull();
    }
  }
}
