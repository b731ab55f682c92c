package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.ForgetRequest;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.RememberResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The unary calls with real stubs, over two transports: gRPC's in-process transport on the
 * in-memory engine, and loopback Netty on a {@link LoopbackServer} whose engine persists to a data
 * directory. One test body, both paths.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(UnaryCallsTest.Transport.class)
class UnaryCallsTest {
  private static final int DIM = 4;

  /** Where the calls go. */
  enum Transport {
    IN_PROCESS_IN_MEMORY,
    LOOPBACK_DURABLE
  }

  @Parameter Transport transport;
  @TempDir Path dir;

  private final CountDownLatch indexingMayProceed = new CountDownLatch(1);
  private Engram engine; // in-process only
  private Server server; // in-process only
  private LoopbackServer loopback; // loopback only
  private ManagedChannel channel;
  private MemoryServiceGrpc.MemoryServiceBlockingStub stub;
  private final SplittableRandom random = new SplittableRandom(5);

  @BeforeEach
  void start() throws Exception {
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(100)
            .workers(1)
            .faults(
                (space, id) -> {
                  if (id.startsWith("slow")) {
                    try {
                      indexingMayProceed.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                  }
                })
            .build();
    switch (transport) {
      case IN_PROCESS_IN_MEMORY -> {
        engine = new Engram(config);
        String name = InProcessServerBuilder.generateName();
        server =
            InProcessServerBuilder.forName(name)
                .directExecutor()
                .addService(new MemoryServiceImpl(engine, InstantSource.system()))
                .build()
                .start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
      }
      case LOOPBACK_DURABLE -> {
        loopback = new LoopbackServer(dir, config);
        assertThat(loopback.server.engine().store()).as("a durable engine").isNotNull();
        channel = loopback.channel;
      }
    }
    stub = MemoryServiceGrpc.newBlockingStub(channel);
    stub.createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId("mem")
            .setDimension(DIM)
            .setMetric(Metric.METRIC_COSINE)
            .build());
  }

  @AfterEach
  void stop() throws Exception {
    indexingMayProceed.countDown();
    if (loopback != null) {
      loopback.close();
    } else {
      channel.shutdownNow();
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      engine.close();
    }
  }

  private RememberResponse remember(Episode... episodes) {
    return stub.remember(
        RememberRequest.newBuilder()
            .setMemorySpaceId("mem")
            .addAllEpisodes(List.of(episodes))
            .build());
  }

  private RecallResponse recall(float[] cue, int k) {
    RecallRequest.Builder r = RecallRequest.newBuilder().setMemorySpaceId("mem").setK(k);
    for (float x : cue) {
      r.addEmbedding(x);
    }
    return stub.recall(r.build());
  }

  @Test
  void remember_thenRecall_findsItAtOnce() {
    float[] v = vector(random, DIM);
    RememberResponse r = remember(episode("a", v), episode("b", vector(random, DIM)));
    assertThat(r.getIdsList()).containsExactly("a", "b");
    assertThat(r.getDuplicates()).isZero();
    RecallResponse hits = recall(v, 1);
    assertThat(hits.getMemories(0).getEpisode().getId()).isEqualTo("a");
    assertThat(hits.getMemories(0).getEpisode().getContent()).isEqualTo("content of a");
    assertThat(hits.getMemories(0).getScore()).isGreaterThan(0.999f);
    assertThat(hits.getMemories(0).getConfidence()).isEqualTo(1.0f);
  }

  @Test
  void remember_sameIdTwice_countedAsDuplicate() {
    remember(episode("a", vector(random, DIM)));
    RememberResponse again = remember(episode("a", vector(random, DIM)));
    assertThat(again.getDuplicates()).isEqualTo(1);
    assertThat(
            stub.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("mem").build())
                .getEpisodeCount())
        .isEqualTo(1);
  }

  @Test
  void remember_emptyId_getsGeneratedId() {
    RememberResponse r = remember(episode("", vector(random, DIM)));
    assertThat(r.getIds(0)).isNotEmpty();
  }

  @Test
  void remember_oneInvalidInBatch_nothingStored() {
    assertThatThrownBy(
            () -> remember(episode("ok", vector(random, DIM)), episode("bad", new float[DIM + 2])))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains("episodes[1]", "dimension");
            });
    assertThat(
            stub.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("mem").build())
                .getEpisodeCount())
        .isZero();
  }

  @Test
  void remember_queueFull_resourceExhaustedWithRetryInfo() {
    List<Episode> slow = new ArrayList<>();
    for (int i = 0; i < 90; i++) {
      slow.add(episode("slow" + i, vector(random, DIM)));
    }
    remember(slow.toArray(Episode[]::new));
    assertThatThrownBy(() -> remember(episode("one-more", vector(random, DIM))))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getTrailers().get(MemoryServiceImpl.RETRY_AFTER_MS)).isNotNull();
              com.google.rpc.Status details = StatusProto.fromThrowable(e);
              assertThat(details).isNotNull();
              assertThat(details.getDetailsList())
                  .anySatisfy(d -> assertThat(d.is(com.google.rpc.RetryInfo.class)).isTrue());
            });
  }

  @Test
  void forget_removesFromRecallAndCounts() {
    float[] v = vector(random, DIM);
    remember(episode("keep", vector(random, DIM)), episode("drop", v));
    assertThat(
            stub.forget(
                    ForgetRequest.newBuilder()
                        .setMemorySpaceId("mem")
                        .addIds("drop")
                        .addIds("never-was")
                        .build())
                .getForgotten())
        .isEqualTo(1);
    assertThat(recall(v, 5).getMemoriesList())
        .extracting(m -> m.getEpisode().getId())
        .containsExactly("keep");
  }

  @Test
  void spaces_createGetListDelete() {
    stub.createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId("other")
            .setDimension(3)
            .setMetric(Metric.METRIC_L2)
            .build());
    assertThat(stub.listSpaces(ListSpacesRequest.getDefaultInstance()).getSpacesList())
        .extracting(s -> s.getMemorySpaceId())
        .containsExactly("mem", "other");
    assertThat(
            stub.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("other").build())
                .getMetric())
        .isEqualTo(Metric.METRIC_L2);
    stub.deleteSpace(DeleteSpaceRequest.newBuilder().setMemorySpaceId("other").build());
    assertThatThrownBy(
            () -> stub.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("other").build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void createSpace_badInput_invalidArgumentNamingTheField() {
    assertThatThrownBy(
            () ->
                stub.createSpace(
                    CreateSpaceRequest.newBuilder()
                        .setMemorySpaceId("UPPER")
                        .setDimension(3)
                        .setMetric(Metric.METRIC_L2)
                        .build()))
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("memory_space_id");
    assertThatThrownBy(
            () ->
                stub.createSpace(
                    CreateSpaceRequest.newBuilder()
                        .setMemorySpaceId("big")
                        .setDimension(5000)
                        .setMetric(Metric.METRIC_L2)
                        .build()))
        .hasMessageContaining("dimension");
    assertThatThrownBy(
            () ->
                stub.createSpace(
                    CreateSpaceRequest.newBuilder()
                        .setMemorySpaceId("nometric")
                        .setDimension(3)
                        .build()))
        .hasMessageContaining("metric");
  }

  @Test
  void createSpace_existingWithOtherDefinition_alreadyExists() {
    assertThatThrownBy(
            () ->
                stub.createSpace(
                    CreateSpaceRequest.newBuilder()
                        .setMemorySpaceId("mem")
                        .setDimension(DIM + 1)
                        .setMetric(Metric.METRIC_COSINE)
                        .build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS));
  }

  @Test
  void recall_wrongDimension_invalidArgument() {
    assertThatThrownBy(() -> recall(new float[DIM + 1], 3))
        .hasMessageContaining("INVALID_ARGUMENT")
        .hasMessageContaining("dimension");
  }
}
