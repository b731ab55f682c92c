package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RememberResponse;
import dev.engram.server.EngramServer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The unary calls against a real server, and the builders' validation. */
class EngramClientTest {
  @TempDir Path dataDir;

  @Test
  void unaryCalls_roundTrip() throws Exception {
    try (EngramServer server =
            EngramServer.start(0, dataDir, EngramConfig.builder().workers(1).build());
        EngramClient client =
            EngramClient.builder().target("127.0.0.1:" + server.grpcPort()).build()) {
      assertThat(client.createSpace("notes", 8, Metric.METRIC_COSINE).getDimension()).isEqualTo(8);
      float[] v = TestData.unitVector(new Random(1), 8);
      RememberResponse r =
          client.remember(
              "notes",
              List.of(TestData.episode("a", v, "alpha"), TestData.episode("a", v, "alpha")));
      assertThat(r.getIdsList()).containsExactly("a", "a");
      assertThat(r.getDuplicates()).isEqualTo(1);
      assertThat(client.getSpace("notes").getEpisodeCount()).isEqualTo(1);
      assertThat(client.listSpaces()).extracting(s -> s.getMemorySpaceId()).contains("notes");
      assertThat(client.recall("notes", v, 1).getMemories(0).getEpisode().getContent())
          .isEqualTo("alpha");
      assertThat(client.recallText("notes", "alphas", 3).getMemoriesList())
          .extracting(m -> m.getEpisode().getId())
          .containsExactly("a");
      assertThat(client.forget("notes", List.of("a", "missing"))).isEqualTo(1);
      client.deleteSpace("notes");
      assertThatThrownBy(() -> client.getSpace("notes"))
          .isInstanceOf(StatusRuntimeException.class)
          .extracting(e -> Status.fromThrowable(e).getCode())
          .isEqualTo(Status.Code.NOT_FOUND);
    }
  }

  @Test
  void builder_badTarget_namesTheValue() {
    assertThatThrownBy(() -> EngramClient.builder().target("localhost"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'localhost'");
    assertThatThrownBy(() -> EngramClient.builder().target("localhost:http"))
        .hasMessageContaining("'localhost:http'");
    assertThatThrownBy(() -> EngramClient.builder().target("localhost:70000"))
        .hasMessageContaining("70000");
    assertThatThrownBy(() -> EngramClient.builder().callTimeout(Duration.ZERO))
        .hasMessageContaining("PT0S");
    assertThatThrownBy(() -> EngramClient.builder().maxInboundMessageBytes(100))
        .hasMessageContaining("got 100");
    assertThatThrownBy(() -> EngramClient.builder().build())
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void streamOptions_badValues_nameTheValue() {
    assertThatThrownBy(() -> StreamOptions.builder().bufferSize(0)).hasMessageContaining("got 0");
    assertThatThrownBy(() -> StreamOptions.builder().maxBatchSize(100_000))
        .hasMessageContaining("100000");
    assertThatThrownBy(
            () -> StreamOptions.builder().backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .hasMessageContaining("PT1S")
        .hasMessageContaining("PT2S");
    assertThatThrownBy(() -> StreamOptions.builder().blockWhenFull(Duration.ofSeconds(-1)))
        .hasMessageContaining("PT-1S");
    assertThatThrownBy(() -> StreamOptions.builder().recallTimeout(Duration.ZERO))
        .hasMessageContaining("PT0S");
    assertThatThrownBy(() -> StreamOptions.builder().maxPendingRecalls(0))
        .hasMessageContaining("got 0");
    assertThatThrownBy(() -> StreamOptions.builder().maxRepeatedFailures(0))
        .hasMessageContaining("got 0");
  }
}
