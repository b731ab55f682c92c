package dev.engram.server.http;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The WebSocket door over loopback with the JDK's WebSocket client: the gRPC stream's rules. */
class WsStreamTest {
  private static final int DIM = 8;
  @TempDir Path dir;

  private static StreamRequest init(String sessionId) {
    return StreamRequest.newBuilder()
        .setInit(StreamInit.getDefaultInstance())
        .setSessionId(sessionId)
        .build();
  }

  private static StreamRequest batch(long first, List<dev.engram.proto.v1.Episode> episodes) {
    return StreamRequest.newBuilder()
        .setSequenceNumber(first)
        .setObservations(EpisodeBatch.newBuilder().addAllEpisodes(episodes))
        .build();
  }

  private static List<dev.engram.proto.v1.Episode> episodes(String prefix, int n, int seed) {
    SplittableRandom random = new SplittableRandom(seed);
    List<dev.engram.proto.v1.Episode> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      list.add(episode(prefix + i, vector(random, DIM)));
    }
    return list;
  }

  private static StreamResponse ackThrough(WsClient c, long through) throws InterruptedException {
    return c.next(r -> r.hasAck() && r.getAck().getAcceptedThrough() >= through);
  }

  @Test
  void stream_initObserveRecall_sameRulesAsGrpc() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir);
        WsClient c = WsClient.connect(f.port(), "notes")) {
      f.createSpace("notes", DIM);
      c.send(init(""));
      StreamResponse ack = c.next(StreamResponse::hasInitAck);
      assertThat(ack.getInitAck().getSessionId()).isNotEmpty();
      assertThat(ack.getInitAck().getNextSequence()).isEqualTo(1);
      assertThat(ack.getInitAck().getCapabilities().getDimension()).isEqualTo(DIM);
      List<dev.engram.proto.v1.Episode> sent = episodes("e", 3, 1);
      c.send(batch(1, sent));
      assertThat(ackThrough(c, 3).getSessionId()).isEqualTo(ack.getInitAck().getSessionId());
      c.send(
          StreamRequest.newBuilder()
              .setRecall(
                  RecallRequest.newBuilder()
                      .setRequestId("q1")
                      .addAllEmbedding(sent.get(1).getEmbeddingList())
                      .setK(1))
              .build());
      StreamResponse recall = c.next(StreamResponse::hasRecall);
      assertThat(recall.getRecall().getRequestId()).isEqualTo("q1");
      assertThat(recall.getRecall().getMemories(0).getEpisode().getId()).isEqualTo("e1");
      c.send(
          StreamRequest.newBuilder()
              .setClose(StreamClose.newBuilder().setDrainQueue(true))
              .build());
      assertThat(c.awaitClosed().code()).isEqualTo(1000);
    }
  }

  @Test
  void stream_duplicateGapAndResume_acknowledgedOnceResentFromExpected() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", DIM);
      String sessionId;
      try (WsClient c = WsClient.connect(f.port(), "notes")) {
        c.send(init(""));
        sessionId = c.next(StreamResponse::hasInitAck).getInitAck().getSessionId();
        c.send(batch(1, episodes("a", 2, 2)));
        ackThrough(c, 2);
        c.send(batch(1, episodes("a", 2, 2))); // duplicate: acknowledged again, not stored
        ackThrough(c, 2);
        c.send(batch(5, episodes("b", 1, 3))); // gap
        StreamResponse resend = c.next(StreamResponse::hasResend);
        assertThat(resend.getResend().getFromSequence()).isEqualTo(3);
        assertThat(resend.getResend().getReason()).isEqualTo(ResendReason.RESEND_REASON_GAP);
      }
      try (WsClient c = WsClient.connect(f.port(), "notes")) {
        c.send(init(sessionId));
        StreamResponse ack = c.next(StreamResponse::hasInitAck);
        assertThat(ack.getInitAck().getSessionId()).isEqualTo(sessionId);
        assertThat(ack.getInitAck().getNextSequence()).isEqualTo(3);
        c.send(batch(3, episodes("c", 1, 4)));
        ackThrough(c, 3);
      }
      assertThat(f.server.engine().getSpace(SpaceId.of("notes")).episodeCount()).isEqualTo(3);
    }
  }

  @Test
  void stream_observationBeforeInit_streamErrorThenClose1008() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir);
        WsClient c = WsClient.connect(f.port(), "notes")) {
      f.createSpace("notes", DIM);
      c.send(batch(1, episodes("a", 1, 1)));
      StreamResponse error = c.next(StreamResponse::hasError);
      assertThat(error.getError().getCode()).isEqualTo(StatusCode.FAILED_PRECONDITION.number());
      assertThat(error.getError().getMessage()).contains("before init");
      assertThat(c.awaitClosed().code()).isEqualTo(1008);
    }
  }

  @Test
  void stream_unknownSpace_notFoundAndInitNamingOtherSpace_refused() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", DIM);
      try (WsClient c = WsClient.connect(f.port(), "missing")) {
        c.send(init(""));
        assertThat(c.next(StreamResponse::hasError).getError().getCode())
            .isEqualTo(StatusCode.NOT_FOUND.number());
      }
      try (WsClient c = WsClient.connect(f.port(), "notes")) {
        c.send(init("").toBuilder().setMemorySpaceId("other").build());
        assertThat(c.next(StreamResponse::hasError).getError().getMessage())
            .contains("differs from the socket's space");
      }
    }
  }

  @Test
  void stream_malformedFrames_answeredNamingTheProblem() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", DIM);
      try (WsClient c = WsClient.connect(f.port(), "notes")) {
        c.send(init(""));
        c.next(StreamResponse::hasInitAck);
        // An unknown field inside an observation: that number is rejected, the socket stays open.
        c.sendRaw("{\"sequenceNumber\":\"1\",\"observation\":{\"id\":\"x\",\"colour\":\"red\"}}");
        StreamResponse rejection = c.next(StreamResponse::hasRejection);
        assertThat(rejection.getRejection().getSequenceNumber()).isEqualTo(1);
        assertThat(rejection.getRejection().getMessage()).contains("colour");
        // An unknown field in a recall: a rejection carrying its request id.
        c.sendRaw("{\"recall\":{\"requestId\":\"q9\",\"kay\":3}}");
        StreamResponse recall = c.next(StreamResponse::hasRejection);
        assertThat(recall.getRejection().getMessage()).contains("q9").contains("kay");
        c.send(batch(2, episodes("ok", 1, 5)));
        ackThrough(c, 2);
        // Not JSON at all: it cannot be placed in the sequence, so the stream ends.
        c.sendRaw("{not json");
        StreamResponse error = c.next(StreamResponse::hasError);
        assertThat(error.getError().getCode()).isEqualTo(StatusCode.INVALID_ARGUMENT.number());
        assertThat(error.getError().getMessage()).contains("malformed JSON");
        assertThat(c.awaitClosed().code()).isEqualTo(1008);
      }
    }
  }

  @Test
  void stream_idleSocket_pingedForKeepAlive() throws Exception {
    HttpOptions options = HttpOptions.onPort(0).withKeepAlive(Duration.ofMillis(100));
    try (HttpServerFixture f =
            new HttpServerFixture(dir, EngramConfig.builder().workers(1).build(), options);
        WsClient c = WsClient.connect(f.port(), "notes")) {
      c.pinged.orTimeout(10, TimeUnit.SECONDS).join();
    }
  }

  @Test
  void stream_clientThatNeverReads_closed1008WithBoundedQueueAndResumable() throws Exception {
    long bound = 64 << 10;
    HttpOptions options =
        HttpOptions.onPort(0).withMaxOutboundBytes(bound).withKeepAlive(Duration.ofMinutes(1));
    try (HttpServerFixture f =
        new HttpServerFixture(dir, EngramConfig.builder().workers(1).build(), options)) {
      f.createSpace("big", 256);
      String sessionId;
      try (WsClient c = WsClient.connect(f.port(), "big", false)) {
        c.send(init(""));
        c.readOne(); // the InitAck; from here on this client reads nothing
        sessionId = c.next(StreamResponse::hasInitAck).getInitAck().getSessionId();
        // Large answers: 100 memories with their 256-d embeddings each, about 300 KB of JSON.
        SplittableRandom random = new SplittableRandom(9);
        List<dev.engram.proto.v1.Episode> data = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          data.add(episode("v" + i, vector(random, 256)));
        }
        c.send(batch(1, data));
        RecallRequest.Builder recall =
            RecallRequest.newBuilder().setK(100).setIncludeEmbeddings(true);
        recall.addAllEmbedding(data.get(0).getEmbeddingList());
        for (int i = 0; i < 200 && f.streams().slowClientsClosed() == 0; i++) {
          c.send(StreamRequest.newBuilder().setRecall(recall.setRequestId("r" + i)).build());
        }
        Awaitility.await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> f.streams().slowClientsClosed() == 1);
        // Bounded: what the server held for this client never passed the bound by more than the
        // frame that crossed it.
        assertThat(f.streams().peakQueuedBytes()).isLessThan(bound + 400_000);
        c.startReading();
        WsClient.Closed closed = c.awaitClosedOrEnded();
        if (closed != null) { // else the close frame sat behind unread data and the server aborted
          assertThat(closed.code()).isEqualTo(1008);
          assertThat(closed.reason()).startsWith(WsStreamOutput.SLOW_CLIENT);
        }
      }
      try (WsClient c = WsClient.connect(f.port(), "big")) {
        c.send(init(sessionId));
        StreamResponse ack = c.next(StreamResponse::hasInitAck);
        assertThat(ack.getInitAck().getSessionId()).isEqualTo(sessionId);
        assertThat(ack.getInitAck().getNextSequence()).isEqualTo(101);
      }
    }
  }

  @Test
  void stream_overloaded_resendOverloadedThenEverythingStoredOnce() throws Exception {
    CountDownLatch refused = new CountDownLatch(1);
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(100)
            .workers(1)
            .faults(
                (space, id) -> {
                  try {
                    refused.await(20, TimeUnit.SECONDS); // indexing holds until the first refusal
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                })
            .build();
    try (HttpServerFixture f = new HttpServerFixture(dir, config, HttpOptions.onPort(0));
        WsClient c = WsClient.connect(f.port(), "flood")) {
      f.createSpace("flood", DIM);
      c.send(init(""));
      c.next(StreamResponse::hasInitAck);
      List<dev.engram.proto.v1.Episode> all = episodes("f", 300, 11);
      long next = 1;
      long acked = 0;
      boolean sawOverloaded = false;
      while (acked < all.size()) {
        int from = (int) next - 1;
        int to = Math.min(all.size(), from + 20);
        if (from < all.size()) {
          c.send(batch(next, all.subList(from, to)));
          next = to + 1;
        }
        StreamResponse r = c.next(x -> x.hasAck() || x.hasResend());
        if (r.hasResend()) {
          assertThat(r.getResend().getReason()).isEqualTo(ResendReason.RESEND_REASON_OVERLOADED);
          sawOverloaded = true;
          refused.countDown();
          next = r.getResend().getFromSequence();
        } else {
          acked = Math.max(acked, r.getAck().getAcceptedThrough());
        }
      }
      assertThat(sawOverloaded).isTrue();
      assertThat(f.server.engine().getSpace(SpaceId.of("flood")).episodeCount()).isEqualTo(300);
      for (var e : all) {
        assertThat(f.server.engine().episode(SpaceId.of("flood"), e.getId())).isNotNull();
      }
    }
  }
}
