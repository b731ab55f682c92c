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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
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
  private String generatedPrefix;

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
      generatedPrefix = stream.generatedIdPrefix();
    }
    assertThat(proxy.cuts()).isGreaterThanOrEqualTo(3);
    assertThat(rejections).isEmpty();
    assertThat(ackedThrough.get()).isEqualTo(n - 1);

    // Exactly once: the count matches and every observation is there under its id, named or
    // generated (the stream numbers generated ids in observe order), with its own content.
    assertThat(stored("chaos")).isEqualTo(n);
    String prefix = generatedPrefix;
    for (int i = 0; i < n; i++) {
      String id = i % 2 == 0 ? "e-" + i : prefix + "-" + (i / 2);
      dev.engram.core.model.Episode e = server.engine().episode(SpaceId.of("chaos"), id);
      assertThat(e).as("observation %d (%s)", i, id).isNotNull();
      assertThat(e.content()).isEqualTo("c-" + i);
    }
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
    CompletableFuture<StreamFailedException> failed = new CompletableFuture<>();
    EngramStream stream =
        client.openStream(
            "nowhere",
            StreamOptions.builder()
                .listener(
                    new StreamListener() {
                      @Override
                      public void onFailed(StreamFailedException failure) {
                        failed.complete(failure);
                      }
                    })
                .build());
    StreamFailedException failure = failed.get(10, TimeUnit.SECONDS);
    assertThat(failure.status().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(stream.stats().observed()).isZero();
    assertThatThrownBy(() -> stream.observe(Episode.getDefaultInstance()))
        .isInstanceOfSatisfying(
            StreamFailedException.class,
            e -> assertThat(e.status().getCode()).isEqualTo(Status.Code.NOT_FOUND))
        .hasMessageContaining("nowhere");
    assertThatThrownBy(() -> stream.tryObserve(Episode.getDefaultInstance()))
        .isInstanceOf(StreamFailedException.class);
    assertThat(stream.close(Duration.ofSeconds(1))).isFalse();
  }

  @Test
  void stream_serverRestartsMidRun_everyObservationStoredOnce() throws Exception {
    startServer(EngramConfig.builder().workers(1).build(), "restart");
    // The client keeps one address (the proxy's); the restarted server binds a fresh port, so no
    // test waits on, or collides over, rebinding the old one.
    proxy = new ChaosProxy(server.grpcPort(), 1, 0, 0);
    client = EngramClient.builder().target(proxy.target()).build();
    int n = 20_000;
    Random random = new Random(13);
    AtomicInteger sessions = new AtomicInteger();
    try (EngramStream stream =
        client.openStream(
            "restart",
            StreamOptions.builder()
                .backoff(Duration.ofMillis(10), Duration.ofMillis(200))
                .listener(
                    new StreamListener() {
                      @Override
                      public void onConnected(String sessionId, boolean resumed) {
                        sessions.incrementAndGet();
                      }
                    })
                .build())) {
      for (int i = 0; i < n; i++) {
        if (i == n / 2) {
          server.close();
          direct.close();
          server = EngramServer.start(0, dataDir, EngramConfig.builder().workers(1).build());
          direct = EngramClient.builder().target("127.0.0.1:" + server.grpcPort()).build();
          proxy.retarget(server.grpcPort());
        }
        stream.observe(TestData.episode("r-" + i, TestData.unitVector(random, DIM), ""));
      }
      assertThat(stream.close(Duration.ofSeconds(60))).isTrue();
      assertThat(stream.stats().reconnects()).isPositive();
    }
    assertThat(sessions.get()).isGreaterThan(1); // it reached the restarted server
    assertThat(stored("restart")).isEqualTo(n);
    for (int i = 0; i < n; i++) {
      assertThat(server.engine().episode(SpaceId.of("restart"), "r-" + i)).isNotNull();
    }
  }

  @Test
  void stream_episodeOverServerMessageLimit_observeFailsThatEpisodeOnly() throws Exception {
    startServer(EngramConfig.builder().workers(1).maxMessageBytes(32 << 10).build(), "small");
    client = direct;
    Random random = new Random(17);
    try (EngramStream stream = client.openStream("small")) {
      stream.observe(TestData.episode("before", TestData.unitVector(random, DIM), "x"));
      await().atMost(Duration.ofSeconds(10)).until(() -> stream.stats().connected());
      Episode big = TestData.episode("big", TestData.unitVector(random, DIM), "y".repeat(40_000));
      assertThatThrownBy(() -> stream.observe(big))
          .isInstanceOfSatisfying(
              EpisodeTooLargeException.class,
              e -> {
                assertThat(e.limitBytes()).isEqualTo(32 << 10);
                assertThat(e.messageBytes()).isGreaterThan(40_000);
              })
          .hasMessageContaining("'big'")
          .hasMessageContaining("32768");
      assertThatThrownBy(() -> stream.tryObserve(big)).isInstanceOf(EpisodeTooLargeException.class);
      stream.observe(TestData.episode("after", TestData.unitVector(random, DIM), "z"));
      assertThat(stream.close(Duration.ofSeconds(20))).isTrue();
      assertThat(stream.stats().acked()).isEqualTo(2);
      assertThat(stream.stats().reconnects()).isZero();
    }
    assertThat(stored("small")).isEqualTo(2);
    assertThat(server.engine().episode(SpaceId.of("small"), "big")).isNull();
  }

  @Test
  void stream_batchBytesOverServerMessageLimit_splitToFit() throws Exception {
    // 200 episodes, every other one ~8 KB: the default 1 MiB batch would be ~800 KB and the
    // server reads 32 KiB, so bytes cut the batches; then 100 small ones, which 32 KiB would fit
    // in one message, so the server's max_batch_size of 16 cuts them.
    startServer(
        EngramConfig.builder().workers(1).maxMessageBytes(32 << 10).maxBatchSize(16).build(),
        "split");
    client = direct;
    Random random = new Random(19);
    int n = 300;
    try (EngramStream stream =
        client.openStream(
            "split", StreamOptions.builder().maxReconnectAttempts(0).bufferSize(n).build())) {
      for (int i = 0; i < n; i++) {
        stream.observe(
            TestData.episode(
                "s-" + i,
                TestData.unitVector(random, DIM),
                i < 200 && i % 2 == 0 ? "c".repeat(8_000) : "small"));
      }
      assertThat(stream.close(Duration.ofSeconds(30))).isTrue();
      assertThat(stream.stats().acked()).isEqualTo(n);
      assertThat(stream.stats().reconnects()).isZero();
    }
    assertThat(stored("split")).isEqualTo(n);
  }
}
