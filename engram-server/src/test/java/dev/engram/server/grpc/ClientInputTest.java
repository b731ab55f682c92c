package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Timestamp;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.FlowControl;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the server does with input a client should not send, over real gRPC on loopback (issue 15,
 * items 12-14): every field it cannot map is {@code INVALID_ARGUMENT} naming the field, on unary
 * calls and streams alike; a stream recalls only its own space; no message echoes a client string
 * at length.
 */
class ClientInputTest {
  private static final int DIM = 4;

  /** Longest message a client string may inflate an error to. */
  private static final int MAX_MESSAGE = 400;

  private static final String HUGE = "x".repeat(100_000);

  @TempDir Path dir;
  private LoopbackServer server;
  private final SplittableRandom random = new SplittableRandom(3);

  @BeforeEach
  void start() throws Exception {
    server = new LoopbackServer(dir);
    server.createSpace("mine", DIM, Metric.METRIC_DOT);
    server.createSpace("other", DIM, Metric.METRIC_DOT);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private static Episode at(Episode e, long seconds, int nanos) {
    return e.toBuilder()
        .setObservedAt(Timestamp.newBuilder().setSeconds(seconds).setNanos(nanos))
        .build();
  }

  private static Status statusOf(ThrowingCallable call) {
    Throwable[] thrown = new Throwable[1];
    assertThatThrownBy(
            () -> {
              try {
                call.call();
              } catch (Throwable t) {
                thrown[0] = t;
                throw t;
              }
            })
        .isInstanceOf(StatusRuntimeException.class);
    return Status.fromThrowable(thrown[0]);
  }

  private RecallRequest.Builder cue(String requestId) {
    RecallRequest.Builder r = RecallRequest.newBuilder().setRequestId(requestId).setK(5);
    for (float x : vector(random, DIM)) {
      r.addEmbedding(x);
    }
    return r;
  }

  // ---- item 12: mapping errors ----

  @Test
  void remember_observedAtBeyondInstantMax_invalidArgumentNamingField() {
    for (Episode bad :
        List.of(
            at(episode("far", vector(random, DIM)), Long.MAX_VALUE, 0),
            at(episode("year-10000", vector(random, DIM)), 253_402_300_800L, 0),
            at(episode("negative-nanos", vector(random, DIM)), 10, -1),
            at(episode("nanos-overflow", vector(random, DIM)), 10, 1_000_000_000))) {
      Status status =
          statusOf(
              () ->
                  server.blocking.remember(
                      RememberRequest.newBuilder()
                          .setMemorySpaceId("mine")
                          .addEpisodes(episode("fine", vector(random, DIM)))
                          .addEpisodes(bad)
                          .build()));
      assertThat(status.getCode()).as(bad.getId()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(status.getDescription()).contains("episodes[1]").contains("observed_at");
    }
    assertThat(server.server.engine().getSpace(SpaceId.of("mine")).episodeCount()).isZero();
  }

  @Test
  void unary_unknownEnumValues_invalidArgumentNamingField() {
    Status recall =
        statusOf(
            () ->
                server.blocking.recall(cue("q").setMemorySpaceId("mine").setModeValue(99).build()));
    assertThat(recall.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(recall.getDescription()).contains("mode").contains("99");

    Status create =
        statusOf(
            () ->
                server.blocking.createSpace(
                    CreateSpaceRequest.newBuilder()
                        .setMemorySpaceId("odd")
                        .setDimension(DIM)
                        .setMetricValue(42)
                        .build()));
    assertThat(create.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(create.getDescription()).contains("metric").contains("42");
  }

  @Test
  void stream_observedAtOutOfRange_rejectsThatEpisodeOnlyAndStaysOpen() {
    try (TestStream s = server.stream("mine")) {
      s.init();
      s.observe(1, at(episode("far", vector(random, DIM)), Long.MAX_VALUE, 0));
      s.observeBatch(
          2,
          List.of(
              episode("ok-2", vector(random, DIM)),
              at(episode("bad-3", vector(random, DIM)), -Long.MAX_VALUE, 0),
              episode("ok-4", vector(random, DIM))));
      s.awaitAccepted(4);
      List<StreamResponse> rejections = s.matching(StreamResponse::hasRejection);
      assertThat(rejections)
          .extracting(r -> r.getRejection().getSequenceNumber())
          .containsExactly(1L, 3L);
      assertThat(rejections)
          .allSatisfy(
              r -> {
                assertThat(r.getRejection().getCode())
                    .isEqualTo(Status.Code.INVALID_ARGUMENT.value());
                assertThat(r.getRejection().getMessage()).contains("observed_at");
              });
      assertThat(s.ended).isNotDone();
      var engine = server.server.engine();
      assertThat(engine.episode(SpaceId.of("mine"), "ok-2")).isNotNull();
      assertThat(engine.episode(SpaceId.of("mine"), "ok-4")).isNotNull();
      assertThat(engine.getSpace(SpaceId.of("mine")).episodeCount()).isEqualTo(2);
    }
  }

  @Test
  void stream_recallWithUnknownMode_rejectedNamingFieldAndStaysOpen() {
    try (TestStream s = server.stream("mine")) {
      s.init();
      s.send(StreamRequest.newBuilder().setRecall(cue("odd-mode").setModeValue(7)).build());
      StreamResponse rejection = s.await(StreamResponse::hasRejection);
      assertThat(rejection.getRejection().getCode())
          .isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(rejection.getRejection().getMessage()).contains("mode").contains("7");
      assertThat(rejection.getRejection().getRequestId()).isEqualTo("odd-mode");
      s.observe(1, episode("after", vector(random, DIM)));
      s.awaitAccepted(1);
    }
  }

  @Test
  void stream_flowWithUnknownAction_invalidArgumentNamingField() {
    try (TestStream s = server.stream("mine")) {
      s.init();
      s.send(
          StreamRequest.newBuilder().setFlow(FlowControl.newBuilder().setActionValue(5)).build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(s.await(StreamResponse::hasError).getError().getMessage())
          .contains("flow.action")
          .contains("5");
    }
  }

  // ---- item 13: a stream recalls its own space ----

  @Test
  void streamRecall_otherSpace_rejectedAndNothingOfItReturned() {
    server.blocking.remember(
        RememberRequest.newBuilder()
            .setMemorySpaceId("other")
            .addEpisodes(episode("secret", vector(random, DIM)))
            .build());
    try (TestStream s = server.stream("mine")) {
      s.init();
      s.observe(1, episode("own", vector(random, DIM)));
      s.awaitAccepted(1);
      s.send(StreamRequest.newBuilder().setRecall(cue("cross").setMemorySpaceId("other")).build());
      s.send(StreamRequest.newBuilder().setRecall(cue("implicit")).build());
      s.send(
          StreamRequest.newBuilder().setRecall(cue("explicit").setMemorySpaceId("mine")).build());
      StreamResponse rejection = s.await(StreamResponse::hasRejection);
      assertThat(rejection.getRejection().getRequestId()).isEqualTo("cross");
      assertThat(rejection.getRejection().getCode())
          .isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(rejection.getRejection().getMessage()).contains("other").contains("mine");
      s.await(r -> r.hasRecall() && r.getRecall().getRequestId().equals("explicit"));
      List<StreamResponse> answers = s.matching(StreamResponse::hasRecall);
      assertThat(answers)
          .extracting(r -> r.getRecall().getRequestId())
          .containsExactly("implicit", "explicit");
      assertThat(answers)
          .flatExtracting(r -> r.getRecall().getMemoriesList())
          .extracting(m -> m.getEpisode().getId())
          .containsOnly("own");
      assertThat(s.ended).isNotDone();
    }
  }

  // ---- item 14: echoed client strings are capped ----

  @Test
  void messages_hugeClientStrings_echoedCapped() {
    try (TestStream s = server.stream("mine")) {
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("mine")
              .setSessionId(HUGE)
              .setInit(StreamInit.getDefaultInstance())
              .build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(s.await(StreamResponse::hasError).getError().getMessage())
          .hasSizeLessThan(MAX_MESSAGE);
    }
    try (TestStream s = server.stream("mine")) {
      s.init();
      RecallRequest.Builder wrongDimension =
          RecallRequest.newBuilder().setRequestId(HUGE).setK(1).addEmbedding(1f);
      s.send(StreamRequest.newBuilder().setRecall(wrongDimension).build());
      StreamResponse rejection = s.await(StreamResponse::hasRejection);
      assertThat(rejection.getRejection().getMessage()).hasSizeLessThan(MAX_MESSAGE);
      assertThat(rejection.getRejection().getRequestId()).isEqualTo(HUGE);
    }
    try (TestStream s = server.stream("mine")) {
      s.init();
      s.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("y".repeat(100_000))
              .setSequenceNumber(1)
              .setObservation(episode("e", vector(random, DIM)))
              .build());
      assertThat(s.awaitEnd().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(s.await(StreamResponse::hasError).getError().getMessage())
          .hasSizeLessThan(MAX_MESSAGE);
    }
    Status unknown =
        statusOf(
            () ->
                server.blocking.getSpace(
                    GetSpaceRequest.newBuilder().setMemorySpaceId(HUGE).build()));
    assertThat(unknown.getDescription()).hasSizeLessThan(MAX_MESSAGE);
  }
}
