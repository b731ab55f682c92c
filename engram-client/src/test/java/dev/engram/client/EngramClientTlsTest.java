package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.EngramConfig;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.Metric;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import dev.engram.server.tls.SelfSignedCert;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK over TLS and mutual TLS, with pairs made by {@code engram cert}'s code. */
class EngramClientTlsTest {
  @TempDir Path dir;

  @Test
  void mutualTls_unaryAndStreamRoundTrip() throws Exception {
    SelfSignedCert.Pair server = SelfSignedCert.write(dir.resolve("server"), List.of("localhost"));
    SelfSignedCert.Pair client =
        SelfSignedCert.write(dir.resolve("client"), List.of("engram-client"));
    ListenOptions listen =
        ListenOptions.loopback().withTls(server.cert(), server.key()).withClientCa(client.cert());
    try (EngramServer s =
            EngramServer.start(
                0,
                HttpOptions.disabled(),
                listen,
                StorageConfig.of(dir.resolve("data")).withFsync(FsyncPolicy.NEVER),
                EngramConfig.builder().workers(1).build(),
                EngramMetrics.prometheus());
        EngramClient engram =
            EngramClient.builder()
                .target("localhost:" + s.grpcPort())
                .tls(server.cert())
                .clientCertificate(client.cert(), client.key())
                .build();
        EngramClient noClientCert =
            EngramClient.builder().target("localhost:" + s.grpcPort()).tls(server.cert()).build()) {
      engram.createSpace("secure", 8, Metric.METRIC_COSINE);
      float[] v = TestData.unitVector(new Random(3), 8);
      try (EngramStream stream = engram.openStream("secure")) {
        stream.observe(TestData.episode("e1", v, "over tls"));
      }
      assertThat(engram.recall("secure", v, 1).getMemories(0).getEpisode().getContent())
          .isEqualTo("over tls");
      assertThatThrownBy(noClientCert::listSpaces).isInstanceOf(StatusRuntimeException.class);
    }
  }

  @Test
  void builder_tlsFiles_checked() {
    assertThatThrownBy(() -> EngramClient.builder().tls(dir.resolve("missing.pem")))
        .hasMessageContaining("missing.pem");
    assertThatThrownBy(
            () -> EngramClient.builder().target("localhost:1").clientCertificate(dir, dir).build())
        .hasMessageContaining("needs tls");
  }
}
