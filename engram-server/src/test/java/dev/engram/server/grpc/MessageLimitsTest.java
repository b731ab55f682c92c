package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.StreamCapabilities;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, items 9 and 10: the server's message and batch limits are explicit, advertised to
 * stream clients, and answered with clear statuses; recall answers carry embeddings only on request
 * and never outgrow one message.
 */
class MessageLimitsTest {
  private static final int DIM = 64;
  private static final int MAX_MESSAGE = 64 << 10;
  private static final int MAX_BATCH = 8;

  @TempDir Path dataDir;
  private LoopbackServer loopback;
  private final SplittableRandom random = new SplittableRandom(15);

  @BeforeEach
  void start() throws Exception {
    loopback =
        new LoopbackServer(
            dataDir,
            EngramConfig.builder()
                .workers(1)
                .maxMessageBytes(MAX_MESSAGE)
                .maxBatchSize(MAX_BATCH)
                .build());
    loopback.createSpace("limits", DIM, Metric.METRIC_COSINE);
  }

  @AfterEach
  void stop() {
    loopback.close();
  }

  @Test
  void initAck_advertisesMessageAndBatchLimits() {
    try (TestStream stream = loopback.stream("limits")) {
      StreamCapabilities caps = stream.init().getInitAck().getCapabilities();
      assertThat(caps.getMaxMessageBytes()).isEqualTo(MAX_MESSAGE);
      assertThat(caps.getMaxBatchSize()).isEqualTo(MAX_BATCH);
    }
  }

  @Test
  void remember_requestOverMessageLimit_resourceExhaustedNamingTheLimit() {
    RememberRequest.Builder big = RememberRequest.newBuilder().setMemorySpaceId("limits");
    for (int i = 0; i < 6; i++) {
      big.addEpisodes(withContent(episode("big-" + i, vector(random, DIM)), 16 << 10));
    }
    assertThat(big.build().getSerializedSize()).isGreaterThan(MAX_MESSAGE);
    assertThatThrownBy(() -> loopback.blocking.remember(big.build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
              assertThat(e.getStatus().getDescription()).contains(Integer.toString(MAX_MESSAGE));
            });
    assertThat(loopback.server.engine().getSpace(space()).episodeCount()).isZero();
  }

  @Test
  void remember_moreThanMaxBatchSize_invalidArgumentNamingTheLimit() {
    RememberRequest.Builder many = RememberRequest.newBuilder().setMemorySpaceId("limits");
    for (int i = 0; i <= MAX_BATCH; i++) {
      many.addEpisodes(episode("m-" + i, vector(random, DIM)));
    }
    assertThatThrownBy(() -> loopback.blocking.remember(many.build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("9 episodes")
                  .contains("max_batch_size of 8");
            });
  }

  @Test
  void stream_batchOverMaxBatchSize_streamErrorInvalidArgument() {
    try (TestStream stream = loopback.stream("limits")) {
      stream.init();
      List<Episode> batch = new ArrayList<>();
      for (int i = 0; i <= MAX_BATCH; i++) {
        batch.add(episode("s-" + i, vector(random, DIM)));
      }
      stream.observeBatch(1, batch);
      StreamResponse error = stream.await(StreamResponse::hasError);
      assertThat(error.getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(error.getError().getMessage()).contains("max_batch_size of 8");
    }
    assertThat(loopback.server.engine().getSpace(space()).episodeCount()).isZero();
  }

  @Test
  void recall_default_memoriesCarryNoEmbedding() {
    float[] v = vector(random, DIM);
    loopback.blocking.remember(
        RememberRequest.newBuilder()
            .setMemorySpaceId("limits")
            .addEpisodes(episode("e-1", v))
            .build());
    RecallResponse plain = loopback.blocking.recall(cue(v, 1).build());
    assertThat(plain.getMemories(0).getEpisode().getId()).isEqualTo("e-1");
    assertThat(plain.getMemories(0).getEpisode().getEmbeddingCount()).isZero();

    RecallResponse full = loopback.blocking.recall(cue(v, 1).setIncludeEmbeddings(true).build());
    assertThat(full.getMemories(0).getEpisode().getEmbeddingCount()).isEqualTo(DIM);
  }

  @Test
  void recall_includeEmbeddingsOverMessageLimit_invalidArgument() {
    // 1000 x 64 floats is 256 KB of embeddings: over the 64 KiB limit before any search.
    assertThatThrownBy(
            () ->
                loopback.blocking.recall(
                    cue(vector(random, DIM), 1000).setIncludeEmbeddings(true).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("include_embeddings")
                  .contains(Integer.toString(MAX_MESSAGE));
            });
  }

  @Test
  void recall_answerContentOverMessageLimit_invalidArgument() {
    // Six episodes of 16 KiB content each: fine one by one, 96 KiB together.
    for (int i = 0; i < 6; i++) {
      loopback.blocking.remember(
          RememberRequest.newBuilder()
              .setMemorySpaceId("limits")
              .addEpisodes(withContent(episode("c-" + i, vector(random, DIM)), 16 << 10))
              .build());
    }
    assertThat(
            loopback
                .blocking
                .recall(cue(vector(random, DIM), 3).build().toBuilder().build())
                .getMemoriesCount())
        .isEqualTo(3);
    assertThatThrownBy(() -> loopback.blocking.recall(cue(vector(random, DIM), 6).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).contains("6 memories").contains("lower k");
            });
  }

  private static dev.engram.core.model.SpaceId space() {
    return dev.engram.core.model.SpaceId.of("limits");
  }

  private static RecallRequest.Builder cue(float[] v, int k) {
    RecallRequest.Builder r = RecallRequest.newBuilder().setMemorySpaceId("limits").setK(k);
    for (float x : v) {
      r.addEmbedding(x);
    }
    return r;
  }

  private static Episode withContent(Episode e, int chars) {
    return e.toBuilder().setContent("x".repeat(chars)).build();
  }
}
