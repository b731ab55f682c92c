package dev.engram.server.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.EngramConfig;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on both doors with a pair made by {@code engram cert}'s code: gRPC, REST and WebSocket round
 * trips, mTLS, and the startup errors for unusable files.
 */
class TlsTest {
  @TempDir static Path certs;
  static SelfSignedCert.Pair server;
  static SelfSignedCert.Pair client;

  @BeforeAll
  static void makePairs() throws IOException {
    server = SelfSignedCert.write(certs.resolve("server"), SelfSignedCert.DEFAULT_HOSTS);
    client = SelfSignedCert.write(certs.resolve("client"), List.of("engram-client"));
  }

  private static EngramServer start(Path dir, ListenOptions listen) throws IOException {
    return EngramServer.start(
        0,
        HttpOptions.onPort(0),
        listen,
        StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
        EngramConfig.builder().workers(1).build(),
        EngramMetrics.prometheus());
  }

  @Test
  void cert_writesPemPairWithOwnerOnlyKey() throws IOException {
    assertThat(Files.readString(server.cert())).startsWith("-----BEGIN CERTIFICATE-----");
    assertThat(Files.readString(server.key())).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Files.getPosixFilePermissions(server.key()).toString())
        .isEqualTo("[OWNER_READ, OWNER_WRITE]");
    assertThat(TlsMaterial.certificates(server.cert(), "cert").getFirst().getSubjectX500Principal())
        .hasToString("CN=localhost");
  }

  @Test
  void roundTrip_grpcRestAndWebSocket(@TempDir Path dir) throws Exception {
    try (EngramServer s =
        start(dir, ListenOptions.loopback().withTls(server.cert(), server.key()))) {
      ManagedChannel channel =
          Grpc.newChannelBuilder(
                  "localhost:" + s.grpcPort(),
                  TlsChannelCredentials.newBuilder().trustManager(server.cert().toFile()).build())
              .build();
      try {
        MemoryServiceGrpc.newBlockingStub(channel)
            .createSpace(
                CreateSpaceRequest.newBuilder()
                    .setMemorySpaceId("tls")
                    .setDimension(4)
                    .setMetric(Metric.METRIC_COSINE)
                    .build());
        assertThat(
                MemoryServiceGrpc.newBlockingStub(channel)
                    .listSpaces(ListSpacesRequest.getDefaultInstance())
                    .getSpacesCount())
            .isEqualTo(1);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      // a plaintext client gets no answer from the TLS port
      ManagedChannel plain =
          Grpc.newChannelBuilder("localhost:" + s.grpcPort(), InsecureChannelCredentials.create())
              .build();
      try {
        assertThatThrownBy(
                () ->
                    MemoryServiceGrpc.newBlockingStub(plain)
                        .withDeadlineAfter(5, TimeUnit.SECONDS)
                        .listSpaces(ListSpacesRequest.getDefaultInstance()))
            .isInstanceOf(StatusRuntimeException.class);
      } finally {
        plain.shutdownNow();
      }

      HttpClient https =
          HttpClient.newBuilder().sslContext(TlsMaterial.trustingContext(server.cert())).build();
      HttpResponse<String> spaces =
          https.send(
              HttpRequest.newBuilder(URI.create("https://localhost:" + s.httpPort() + "/v1/spaces"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(spaces.statusCode()).isEqualTo(200);
      assertThat(spaces.body()).contains("\"tls\"");

      // a client that does not trust the certificate fails the handshake
      assertThatThrownBy(
              () ->
                  HttpClient.newHttpClient()
                      .send(
                          HttpRequest.newBuilder(
                                  URI.create("https://localhost:" + s.httpPort() + "/v1/spaces"))
                              .build(),
                          HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(IOException.class);

      assertThat(firstWebSocketMessage(https, s.httpPort(), "tls"))
          .contains("initAck")
          .contains("maxMessageBytes");
    }
  }

  @Test
  void mutualTls_clientWithoutCertificateRefused(@TempDir Path dir) throws Exception {
    ListenOptions listen =
        ListenOptions.loopback().withTls(server.cert(), server.key()).withClientCa(client.cert());
    try (EngramServer s = start(dir, listen)) {
      ChannelCredentials withCert =
          TlsChannelCredentials.newBuilder()
              .trustManager(server.cert().toFile())
              .keyManager(client.cert().toFile(), client.key().toFile())
              .build();
      ChannelCredentials withoutCert =
          TlsChannelCredentials.newBuilder().trustManager(server.cert().toFile()).build();
      assertThat(listSpaces(s.grpcPort(), withCert)).isZero();
      assertThatThrownBy(() -> listSpaces(s.grpcPort(), withoutCert))
          .isInstanceOf(StatusRuntimeException.class)
          .hasMessageContaining("UNAVAILABLE");

      HttpClient noCert =
          HttpClient.newBuilder().sslContext(TlsMaterial.trustingContext(server.cert())).build();
      assertThatThrownBy(
              () ->
                  noCert.send(
                      HttpRequest.newBuilder(
                              URI.create("https://localhost:" + s.httpPort() + "/v1/spaces"))
                          .build(),
                      HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(IOException.class);
    }
  }

  @Test
  void startup_unusableFilesNamedWithoutKeyMaterial(@TempDir Path dir) throws IOException {
    Path missing = dir.resolve("nope.pem");
    assertThatThrownBy(() -> start(dir, ListenOptions.loopback().withTls(missing, server.key())))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("--tls-cert " + missing + ": no such file");
    // the other pair's key does not belong to this certificate
    assertThatThrownBy(
            () -> start(dir, ListenOptions.loopback().withTls(server.cert(), client.key())))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("--tls-key " + client.key() + " does not belong")
        .hasMessageNotContaining(Files.readString(client.key()).lines().skip(1).findFirst().get());
    // a certificate given as the key
    assertThatThrownBy(
            () -> start(dir, ListenOptions.loopback().withTls(server.cert(), server.cert())))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("--tls-key " + server.cert() + ": no PEM private key");
    Path rsa =
        Files.writeString(
            dir.resolve("rsa.pem"),
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
    assertThatThrownBy(() -> start(dir, ListenOptions.loopback().withTls(server.cert(), rsa)))
        .isInstanceOf(TlsException.class)
        .hasMessageContaining("openssl pkcs8");
  }

  @Test
  void plaintext_refusedOffLoopbackUnlessAllowed() {
    ListenOptions everywhere = ListenOptions.loopback().withBind("0.0.0.0");
    assertThat(everywhere.loopbackOnly()).isFalse();
    assertThat(ListenOptions.loopback().loopbackOnly()).isTrue();
    assertThat(ListenOptions.loopback().withBind("localhost").loopbackOnly()).isTrue();
    assertThat(ListenOptions.loopback().withBind("::1").loopbackOnly()).isTrue();
    assertThatThrownBy(everywhere::checkPlaintext)
        .hasMessageContaining("--tls-cert")
        .hasMessageContaining("--allow-plaintext");
    everywhere.withAllowPlaintext(true).checkPlaintext();
    everywhere.withTls(server.cert(), server.key()).checkPlaintext();
  }

  private static int listSpaces(int port, ChannelCredentials credentials)
      throws InterruptedException {
    ManagedChannel channel = Grpc.newChannelBuilder("localhost:" + port, credentials).build();
    try {
      return MemoryServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .listSpaces(ListSpacesRequest.getDefaultInstance())
          .getSpacesCount();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** Opens wss://localhost:port/v1/stream and sends an init; returns the first text frame. */
  static String firstWebSocketMessage(HttpClient https, int port, String space) {
    CompletableFuture<String> first = new CompletableFuture<>();
    WebSocket ws =
        https
            .newWebSocketBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .buildAsync(
                URI.create("wss://localhost:" + port + "/v1/stream?space=" + space),
                new WebSocket.Listener() {
                  private final StringBuilder text = new StringBuilder();

                  @Override
                  public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                    text.append(data);
                    if (last) {
                      first.complete(text.toString());
                    }
                    w.request(1);
                    return null;
                  }

                  @Override
                  public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
                    first.complete("closed " + code + " " + reason);
                    return null;
                  }
                })
            .orTimeout(10, TimeUnit.SECONDS)
            .join();
    ws.sendText("{\"memorySpaceId\":\"" + space + "\",\"init\":{}}", true);
    try {
      return first.orTimeout(10, TimeUnit.SECONDS).join();
    } finally {
      ws.abort();
    }
  }
}
