package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every session rule of DESIGN.md §3 over real gRPC on loopback. */
class StreamProtocolTest {
  private static final int DIM = 8;
  @TempDir Path dir;
  private LoopbackServer server;
  private final SplittableRandom random = new SplittableRandom(42);

  @BeforeEach
  void start() throws Exception {
    server = new LoopbackServer(dir);
    server.createSpace("notes", DIM, Metric.METRIC_COSINE);
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  private long stored() {
    return server.server.engine().getSpace(SpaceId.of("notes")).episodeCount();
  }

  @Test
  void init_newSession_returnsIdNextSequenceAndCapabilities() {
    try (TestStream s = server.stream("notes")) {
      StreamResponse ack = s.init();
      assertThat(ack.getInitAck().getSessionId()).isNotEmpty();
      assertThat(ack.getInitAck().getNextSequence()).isEqualTo(1);
      assertThat(ack.getInitAck().getCapabilities().getDimension()).isEqualTo(DIM);
      assertThat(ack.getInitAck().getCapabilities().getQueueCapacity()).isEqualTo(10_000);
      assertThat(ack.getInitAck().getCapabilities().getSupportsBackpressure()).isTrue();
    }
  }

  @Test
  void observation_duplicateSequence_reackedAndNotStoredTwice() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      Episode e = episode("a", vector(random, DIM));
      s.observe(1, e);
      s.awaitAccepted(1);
      s.observe(1, e);
      s.observe(1, episode("other-id-same-number", vector(random, DIM)));
      s.observe(2, episode("b", vector(random, DIM)));
      s.awaitAccepted(2);
      assertThat(s.matching(StreamResponse::hasAck)).hasSizeGreaterThanOrEqualTo(3);
      assertThat(s.matching(StreamResponse::hasRejection)).isEmpty();
      assertThat(stored()).isEqualTo(2);
      assertThat(server.server.engine().episode(SpaceId.of("notes"), "other-id-same-number"))
          .isNull();
    }
  }

  @Test
  void observation_sameIdNewSequence_acknowledgedNotStoredAgain() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      Episode e = episode("same", vector(random, DIM));
      s.observe(1, e);
      s.observe(2, e);
      s.awaitAccepted(2);
      assertThat(stored()).isEqualTo(1);
    }
  }

  @Test
  void observation_gap_oneResendAndStreamStaysOpen() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      s.observe(1, episode("a", vector(random, DIM)));
      s.observe(3, episode("c", vector(random, DIM)));
      s.observe(4, episode("d", vector(random, DIM)));
      StreamResponse resend = s.await(StreamResponse::hasResend);
      assertThat(resend.getResend().getFromSequence()).isEqualTo(2);
      assertThat(resend.getResend().getReason()).isEqualTo(ResendReason.RESEND_REASON_GAP);
      // Go-back-N: resend from 2 and the stream carries on.
      s.observe(2, episode("b", vector(random, DIM)));
      s.observe(3, episode("c", vector(random, DIM)));
      s.observe(4, episode("d", vector(random, DIM)));
      s.awaitAccepted(4);
      assertThat(s.matching(StreamResponse::hasResend)).hasSize(1);
      assertThat(s.ended).isNotDone();
      assertThat(stored()).isEqualTo(4);
    }
  }

  @Test
  void init_resumeOldSession_sameIdAndNextSequence() {
    String sessionId;
    try (TestStream first = server.stream("notes")) {
      sessionId = first.init().getInitAck().getSessionId();
      first.observeBatch(
          1,
          List.of(
              episode("r1", vector(random, DIM)),
              episode("r2", vector(random, DIM)),
              episode("r3", vector(random, DIM))));
      first.awaitAccepted(3);
    }
    try (TestStream second = server.stream("notes")) {
      StreamResponse ack = second.init(sessionId);
      assertThat(ack.getInitAck().getSessionId()).isEqualTo(sessionId);
      assertThat(ack.getInitAck().getNextSequence()).isEqualTo(4);
      // A resend of an old number is a duplicate; the next number is processed.
      second.observe(3, episode("r3", vector(random, DIM)));
      second.observe(4, episode("r4", vector(random, DIM)));
      second.awaitAccepted(4);
      assertThat(stored()).isEqualTo(4);
    }
  }

  @Test
  void init_resumeWhileOldStreamOpen_oldStreamAborted() {
    try (TestStream first = server.stream("notes");
        TestStream second = server.stream("notes")) {
      String id = first.init().getInitAck().getSessionId();
      assertThat(second.init(id).getInitAck().getSessionId()).isEqualTo(id);
      assertThat(first.awaitEnd().getCode()).isEqualTo(Status.Code.ABORTED);
    }
  }

  @Test
  void init_resumeUnknownSession_notFound() {
    try (TestStream s = server.stream("notes")) {
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("notes")
              .setSessionId("no-such-session")
              .setInit(dev.engram.proto.v1.StreamInit.getDefaultInstance())
              .build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(s.await(StreamResponse::hasError).getError().getMessage())
          .contains("no-such-session");
    }
  }

  @Test
  void observation_badDimensionNanOversize_rejectedAndStreamGoesOn() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      s.observe(1, episode("wrong-dim", vector(random, DIM + 1)));
      float[] nan = vector(random, DIM);
      nan[3] = Float.NaN;
      s.observe(2, episode("nan", nan));
      s.observe(
          3,
          episode("big", vector(random, DIM)).toBuilder().setContent("x".repeat(70_000)).build());
      s.observe(4, episode("ok", vector(random, DIM)));
      s.awaitAccepted(4);
      List<StreamResponse> rejections = s.matching(StreamResponse::hasRejection);
      assertThat(rejections)
          .extracting(r -> r.getRejection().getSequenceNumber())
          .containsExactly(1L, 2L, 3L);
      assertThat(rejections)
          .allSatisfy(
              r ->
                  assertThat(r.getRejection().getCode())
                      .isEqualTo(Status.Code.INVALID_ARGUMENT.value()));
      assertThat(rejections.get(0).getRejection().getMessage()).contains("dimension 9");
      assertThat(rejections.get(1).getRejection().getMessage()).contains("NaN");
      assertThat(rejections.get(2).getRejection().getMessage()).contains("content");
      assertThat(s.ended).isNotDone();
      assertThat(stored()).isEqualTo(1);
    }
  }

  @Test
  void observation_beforeInit_failedPrecondition() {
    try (TestStream s = server.stream("notes")) {
      s.observe(1, episode("a", vector(random, DIM)));
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(s.await(StreamResponse::hasError).getError().getCode())
          .isEqualTo(Status.Code.FAILED_PRECONDITION.value());
      assertThat(stored()).isZero();
    }
  }

  @Test
  void init_unknownSpace_notFound() {
    try (TestStream s = server.stream("nowhere")) {
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("nowhere")
              .setInit(dev.engram.proto.v1.StreamInit.getDefaultInstance())
              .build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(s.await(StreamResponse::hasError).getError().getMessage()).contains("nowhere");
    }
  }

  @Test
  void init_invalidSpaceId_invalidArgument() {
    try (TestStream s = server.stream("Bad Space!")) {
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("Bad Space!")
              .setInit(dev.engram.proto.v1.StreamInit.getDefaultInstance())
              .build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    }
  }

  @Test
  void recall_afterObservations_seesOwnWritesAtOnce() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      List<float[]> vectors = new ArrayList<>();
      for (int i = 1; i <= 50; i++) {
        float[] v = vector(random, DIM);
        vectors.add(v);
        s.observe(i, episode("e" + i, v));
        // No waiting for the ack: stream order alone guarantees read-your-writes.
        s.recall("q" + i, v, 1);
      }
      for (int i = 1; i <= 50; i++) {
        String q = "q" + i;
        StreamResponse answer =
            s.await(r -> r.hasRecall() && r.getRecall().getRequestId().equals(q));
        assertThat(answer.getRecall().getMemoriesList()).isNotEmpty();
        assertThat(answer.getRecall().getMemories(0).getEpisode().getId()).isEqualTo("e" + i);
        assertThat(answer.getRecall().getMemories(0).getScore()).isGreaterThan(0.999f);
      }
    }
  }

  @Test
  void recall_withoutEmbedding_rejectedAndStreamGoesOn() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("notes")
              .setSequenceNumber(0)
              .setRecall(
                  dev.engram.proto.v1.RecallRequest.newBuilder()
                      .setRequestId("text-only")
                      .setText("where is Ana"))
              .build());
      StreamResponse rejection = s.await(StreamResponse::hasRejection);
      assertThat(rejection.getRejection().getMessage()).contains("text-only").contains("embedding");
      assertThat(rejection.getRejection().getRequestId()).isEqualTo("text-only");
      s.observe(1, episode("a", vector(random, DIM)));
      s.awaitAccepted(1);
    }
  }

  @Test
  void close_withDrain_finalAckCoversEverythingIndexed() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      List<Episode> batch = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        batch.add(episode("d" + i, vector(random, DIM)));
      }
      s.observeBatch(1, batch);
      s.closeStream(true);
      assertThat(s.awaitEnd().isOk()).isTrue();
      StreamResponse last = s.responses.getLast();
      assertThat(last.hasAck()).isTrue();
      assertThat(last.getAck().getAcceptedThrough()).isEqualTo(200);
      assertThat(last.getAck().getIndexedThrough()).isEqualTo(200);
    }
  }

  @Test
  void deleteSpace_withOpenStream_streamEndsNotFound() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      s.observe(1, episode("a", vector(random, DIM)));
      s.awaitAccepted(1);
      server.blocking.deleteSpace(
          DeleteSpaceRequest.newBuilder().setMemorySpaceId("notes").build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      // The server is fine: the space can be created again and used.
      server.createSpace("notes", DIM, Metric.METRIC_COSINE);
      try (TestStream again = server.stream("notes")) {
        again.init();
        again.observe(1, episode("a", vector(random, DIM)));
        again.awaitAccepted(1);
      }
    }
  }

  @Test
  void observation_acksCarryIndexProgress() {
    try (TestStream s = server.stream("notes")) {
      s.init();
      for (int i = 1; i <= 20; i++) {
        s.observe(i, episode("i" + i, vector(random, DIM)));
      }
      s.await(r -> r.hasAck() && r.getAck().getIndexedThrough() == 20);
      assertThat(server.server.engine().getSpace(SpaceId.of("notes")).indexedCount()).isEqualTo(20);
    }
  }
}
