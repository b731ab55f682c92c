package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.EngramConfig;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.IssueTokenResponse;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.TokenRight;
import dev.engram.server.AccessOptions;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK's token against a real server with authentication on (gRPC over loopback). */
class EngramClientAuthTest {
  private static final String ADMIN = "java-sdk-admin-token-0123456789";

  @TempDir Path dir;

  @Test
  void token_unaryAndStream_andRefusals() throws Exception {
    try (EngramServer server =
        EngramServer.start(
            0,
            HttpOptions.disabled(),
            ListenOptions.loopback(),
            StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
            EngramConfig.builder().workers(1).build(),
            EngramMetrics.prometheus(),
            new AccessOptions(true, ADMIN))) {
      String target = "127.0.0.1:" + server.grpcPort();
      IssueTokenResponse writer;
      IssueTokenResponse reader;
      try (EngramClient admin = EngramClient.builder().target(target).token(ADMIN).build()) {
        admin.createSpace("notes", 2, Metric.METRIC_DOT);
        writer =
            admin.issueToken(
                "notes",
                Duration.ofHours(1),
                TokenRight.TOKEN_RIGHT_READ,
                TokenRight.TOKEN_RIGHT_WRITE);
        reader = admin.issueToken("notes", null, TokenRight.TOKEN_RIGHT_READ);
        assertThat(admin.listTokens())
            .extracting(t -> t.getId())
            .contains(writer.getToken().getId());
      }
      try (EngramClient w =
              EngramClient.builder().target(target).token(writer.getSecret()).build();
          EngramStream stream = w.openStream("notes")) {
        stream.observe(TestData.episode("e1", new float[] {1, 0}, "hello"));
        RecallResponse hits = stream.recall(new float[] {1, 0}, 1).get(20, TimeUnit.SECONDS);
        assertThat(hits.getMemoriesList())
            .extracting(m -> m.getEpisode().getId())
            .containsExactly("e1");
      }
      try (EngramClient anonymous = EngramClient.builder().target(target).build()) {
        assertThatThrownBy(anonymous::listSpaces)
            .isInstanceOf(StatusRuntimeException.class)
            .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
            .isEqualTo(Status.Code.UNAUTHENTICATED);
      }
      try (EngramClient r =
          EngramClient.builder().target(target).token(reader.getSecret()).build()) {
        assertThat(r.listSpaces()).extracting(s -> s.getMemorySpaceId()).containsExactly("notes");
        assertThatThrownBy(() -> r.forget("notes", List.of("e1")))
            .isInstanceOf(StatusRuntimeException.class)
            .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
            .isEqualTo(Status.Code.PERMISSION_DENIED);
      }
    }
  }
}
