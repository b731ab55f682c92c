package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Rejection;
import dev.engram.proto.v1.StreamInitAck;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 15, items 9 and 11: the SDK against a scripted server that misbehaves in ways a real one
 * cannot be made to on cue: failing every call after its InitAck, answering recalls out of order,
 * never answering.
 */
class StreamFailureBoundsTest {
  private Server server;
  private EngramClient client;

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** A server whose stream answers init with an InitAck and hands every later frame to script. */
  private void startScripted(BiConsumer<StreamRequest, StreamObserver<StreamResponse>> script)
      throws Exception {
    AtomicInteger sessions = new AtomicInteger();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(
                new MemoryServiceGrpc.MemoryServiceImplBase() {
                  @Override
                  public StreamObserver<StreamRequest> stream(
                      StreamObserver<StreamResponse> responses) {
                    return new StreamObserver<>() {
                      @Override
                      public void onNext(StreamRequest r) {
                        synchronized (responses) {
                          if (r.hasInit()) {
                            responses.onNext(
                                StreamResponse.newBuilder()
                                    .setInitAck(
                                        StreamInitAck.newBuilder()
                                            .setSessionId("s-" + sessions.incrementAndGet())
                                            .setNextSequence(1))
                                    .build());
                          } else {
                            script.accept(r, responses);
                          }
                        }
                      }

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {}
                    };
                  }
                })
            .build()
            .start();
    client = EngramClient.builder().target("127.0.0.1:" + server.getPort()).build();
  }

  @Test
  void stream_sameFailureAfterEveryInitAck_failsAfterBoundedRetries() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    startScripted(
        (r, responses) -> {
          if (r.hasObservation() || r.hasObservations()) {
            calls.incrementAndGet();
            responses.onError(
                Status.RESOURCE_EXHAUSTED.withDescription("message too large").asException());
          }
        });
    CompletableFuture<StreamFailedException> failed = new CompletableFuture<>();
    EngramStream stream =
        client.openStream(
            "space",
            StreamOptions.builder()
                .backoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .maxRepeatedFailures(4)
                .listener(
                    new StreamListener() {
                      @Override
                      public void onFailed(StreamFailedException failure) {
                        failed.complete(failure);
                      }
                    })
                .build());
    stream.observe(TestData.episode("poison", new float[] {1f, 0f}, ""));
    StreamFailedException failure = failed.get(10, TimeUnit.SECONDS);
    assertThat(failure.status().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(failure).hasMessageContaining("4 times in a row").hasMessageContaining("ticket 0");
    assertThat(calls.get()).isEqualTo(4);
    assertThatThrownBy(() -> stream.observe(TestData.episode("x", new float[] {1f, 0f}, "")))
        .isInstanceOf(StreamFailedException.class);
  }

  @Test
  void recall_rejectedOutOfOrder_matchedByRequestId() throws Exception {
    List<StreamRequest> held = new CopyOnWriteArrayList<>();
    startScripted(
        (r, responses) -> {
          if (!r.hasRecall()) {
            return;
          }
          held.add(r);
          if (held.size() == 2) {
            // The second recall is rejected before the first is answered.
            responses.onNext(
                StreamResponse.newBuilder()
                    .setRejection(
                        Rejection.newBuilder()
                            .setCode(Status.Code.INVALID_ARGUMENT.value())
                            .setMessage("recall 'b': wrong dimension")
                            .setRequestId("b"))
                    .build());
            responses.onNext(
                StreamResponse.newBuilder()
                    .setRecall(RecallResponse.newBuilder().setRequestId("a").setTookMicros(7))
                    .build());
          }
        });
    try (EngramStream stream = client.openStream("space")) {
      CompletableFuture<RecallResponse> a = stream.recall(cue("a"));
      CompletableFuture<RecallResponse> b = stream.recall(cue("b"));
      assertThat(a.get(10, TimeUnit.SECONDS).getTookMicros()).isEqualTo(7);
      assertThatThrownBy(() -> b.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessageContaining("wrong dimension");
    }
  }

  @Test
  void recall_neverAnswered_failsWithDeadlineExceeded() throws Exception {
    startScripted((r, responses) -> {});
    try (EngramStream stream =
        client.openStream(
            "space",
            StreamOptions.builder()
                .recallTimeout(Duration.ofMillis(200))
                .closeTimeout(Duration.ofSeconds(1))
                .build())) {
      CompletableFuture<RecallResponse> silent = stream.recall(cue("silent"));
      assertThatThrownBy(() -> silent.get(10, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED))
          .hasMessageContaining("'silent'")
          .hasMessageContaining("PT0.2S");
      assertThat(stream.debugState()).endsWith("recalls=0/0");
    }
  }

  @Test
  void recall_overPendingBound_failsAtOnceAndCloseFailsTheRest() throws Exception {
    startScripted((r, responses) -> {});
    EngramStream stream =
        client.openStream("space", StreamOptions.builder().maxPendingRecalls(2).build());
    CompletableFuture<RecallResponse> first = stream.recall(cue("1"));
    CompletableFuture<RecallResponse> second = stream.recall(cue("2"));
    CompletableFuture<RecallResponse> duplicate = stream.recall(cue("2"));
    CompletableFuture<RecallResponse> third = stream.recall(cue("3"));
    assertThat(duplicate).isCompletedExceptionally();
    assertThatThrownBy(duplicate::join).hasMessageContaining("'2' is already pending");
    assertThat(third).isCompletedExceptionally();
    assertThatThrownBy(third::join)
        .cause()
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    assertThat(first).isNotDone();
    stream.close(Duration.ofMillis(100));
    assertThatThrownBy(first::join).cause().isInstanceOf(StreamFailedException.class);
    assertThatThrownBy(second::join).cause().isInstanceOf(StreamFailedException.class);
  }

  private static RecallRequest cue(String id) {
    return RecallRequest.newBuilder().setRequestId(id).setK(1).addEmbedding(1f).build();
  }
}
