package dev.engram.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.engram.core.EngramConfig;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.server.EngramServer;
import dev.engram.server.grpc.Episodes;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every configured limit answers with a clear status on each door and counts in {@code
 * engram_limit_refusals_total{limit}}.
 */
class LimitRefusalsTest {
  @TempDir Path dir;

  @Test
  void eachLimit_clearStatusAndCounted() throws Exception {
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .maxSpaces(2)
            .maxBatchSize(4)
            .maxMessageBytes(128 << 10)
            .build();
    try (EngramServer server =
        EngramServer.start(
            0,
            HttpOptions.onPort(0),
            StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
            config,
            EngramMetrics.prometheus())) {
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "localhost:" + server.grpcPort(), InsecureChannelCredentials.create())
              .build();
      var grpc = MemoryServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
      HttpClient http = HttpClient.newHttpClient();
      try {
        grpc.createSpace(space("a"));
        grpc.createSpace(space("b"));
        grpc.createSpace(space("a")); // the same space again is not a new one
        assertThatThrownBy(() -> grpc.createSpace(space("c")))
            .isInstanceOf(StatusRuntimeException.class)
            .satisfies(
                e -> {
                  Status s = Status.fromThrowable(e);
                  assertThat(s.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                  assertThat(s.getDescription()).contains("--max-spaces 2");
                });
        HttpResponse<String> rest =
            post(
                http,
                server,
                "/v1/spaces",
                "{\"memorySpaceId\":\"d\",\"dimension\":4,\"metric\":\"METRIC_DOT\"}");
        assertThat(rest.statusCode()).isEqualTo(429);
        assertThat(rest.body()).contains("RESOURCE_EXHAUSTED").contains("--max-spaces 2");
        assertThat(refusals(server, "spaces")).isEqualTo(2);

        SplittableRandom random = new SplittableRandom(7);
        RememberRequest.Builder batch = RememberRequest.newBuilder().setMemorySpaceId("a");
        for (int i = 0; i < 5; i++) {
          batch.addEpisodes(Episodes.episode("e" + i, Episodes.vector(random, 4)));
        }
        assertCode(
            () -> grpc.remember(batch.build()), Status.Code.INVALID_ARGUMENT, "max_batch_size");
        assertThat(refusals(server, "batch")).isEqualTo(1);

        RecallRequest bigK =
            RecallRequest.newBuilder()
                .setMemorySpaceId("a")
                .addAllEmbedding(java.util.List.of(1f, 0f, 0f, 0f))
                .setK(5000)
                .build();
        assertCode(() -> grpc.recall(bigK), Status.Code.INVALID_ARGUMENT, "k 5000");
        assertThat(refusals(server, "k")).isEqualTo(1);

        Episode manyTags =
            Episodes.episode("m", Episodes.vector(random, 4)).toBuilder()
                .putAllMetadata(tags(100))
                .build();
        assertCode(
            () ->
                grpc.remember(
                    RememberRequest.newBuilder()
                        .setMemorySpaceId("a")
                        .addEpisodes(manyTags)
                        .build()),
            Status.Code.INVALID_ARGUMENT,
            "metadata");
        assertThat(refusals(server, "metadata")).isEqualTo(1);

        HttpResponse<String> longContent =
            post(
                http,
                server,
                "/v1/spaces/a/episodes",
                "{\"embedding\":[1,0,0,0],\"content\":\"" + "x".repeat(70_000) + "\"}");
        assertThat(longContent.statusCode()).isEqualTo(400);
        assertThat(longContent.body()).contains("at most 65536 bytes");
        assertThat(refusals(server, "content")).isEqualTo(1);
        assertThat(refusals(server, "message_bytes")).isZero();

        Episode tooBig =
            Episodes.episode("big", Episodes.vector(random, 4)).toBuilder()
                .setContent("y".repeat(200_000))
                .build();
        assertCode(
            () ->
                grpc.remember(
                    RememberRequest.newBuilder().setMemorySpaceId("a").addEpisodes(tooBig).build()),
            Status.Code.RESOURCE_EXHAUSTED,
            "");
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(() -> assertThat(refusals(server, "message_bytes")).isEqualTo(1));
        HttpResponse<String> tooBigRest =
            post(
                http,
                server,
                "/v1/spaces/a/episodes",
                "{\"content\":\"" + "z".repeat(200_000) + "\"}");
        assertThat(tooBigRest.statusCode()).isEqualTo(413);
        assertThat(refusals(server, "message_bytes")).isEqualTo(2);
        assertThat(server.metrics().scrape())
            .contains("engram_limit_refusals_total{limit=\"spaces\"} 2.0");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static java.util.Map<String, String> tags(int n) {
    java.util.Map<String, String> m = new java.util.HashMap<>();
    for (int i = 0; i < n; i++) {
      m.put("k" + i, "v");
    }
    return m;
  }

  private static void assertCode(Runnable call, Status.Code code, String text) {
    assertThatThrownBy(call::run)
        .isInstanceOf(StatusRuntimeException.class)
        .satisfies(
            e -> {
              Status s = Status.fromThrowable(e);
              assertThat(s.getCode()).isEqualTo(code);
              assertThat(s.getDescription()).contains(text);
            });
  }

  private static double refusals(EngramServer server, String limit) {
    return server
        .metrics()
        .registry()
        .get("engram.limit.refusals")
        .tag("limit", limit)
        .counter()
        .count();
  }

  private static CreateSpaceRequest space(String id) {
    return CreateSpaceRequest.newBuilder()
        .setMemorySpaceId(id)
        .setDimension(4)
        .setMetric(Metric.METRIC_COSINE)
        .build();
  }

  private static HttpResponse<String> post(
      HttpClient http, EngramServer server, String path, String json) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://localhost:" + server.httpPort() + path))
            .header("Content-Type", "application/json")
            .expectContinue(json.length() > 128 << 10)
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
