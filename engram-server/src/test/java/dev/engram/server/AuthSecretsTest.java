package dev.engram.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.server.grpc.AuthInterceptor;
import dev.engram.server.tls.SelfSignedCert;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real server process issues and revokes tokens and answers failed calls; then everything the run
 * produced (stdout, stderr, audit.log, a /metrics scrape, every answer) is searched for the
 * secrets. Only the admin token's one line at the first start may show it, exactly once.
 */
class AuthSecretsTest {
  private static final Pattern ADMIN_LINE = Pattern.compile("Admin token \\(.*\\): (\\S+)");

  @TempDir Path tmp;
  private final HttpClient http = HttpClient.newHttpClient();
  private final StringBuilder answers = new StringBuilder();

  @Test
  void secrets_neverAppearInLogsMetricsAnswersOrAudit() throws Exception {
    Path data = tmp.resolve("data");
    ServerProcess first = startServer(data, tmp.resolve("run1"));
    String admin = first.awaitLine(ADMIN_LINE, Duration.ofSeconds(60));
    List<String> secrets = new ArrayList<>();
    String tokenId;
    try {
      int port = first.httpPort();
      assertThat(
              call(
                  port,
                  admin,
                  "POST",
                  "/v1/spaces",
                  "{\"memorySpaceId\":\"s\",\"dimension\":2,\"metric\":\"METRIC_DOT\"}"))
          .isEqualTo(201);
      HttpResponse<String> issued =
          send(
              port,
              admin,
              "POST",
              "/v1/tokens",
              "{\"memorySpaceId\":\"s\",\"rights\":[\"TOKEN_RIGHT_WRITE\"]}");
      assertThat(issued.statusCode()).isEqualTo(201);
      Matcher m = Pattern.compile("\"secret\":\\s*\"([^\"]+)\"").matcher(issued.body());
      assertThat(m.find()).isTrue();
      String secret = m.group(1);
      secrets.add(secret);
      Matcher id = Pattern.compile("\"id\":\\s*\"([^\"]+)\"").matcher(issued.body());
      assertThat(id.find()).isTrue();
      tokenId = id.group(1);
      assertThat(
              call(
                  port,
                  secret,
                  "POST",
                  "/v1/spaces/s/episodes",
                  "{\"id\":\"e\",\"embedding\":[1,0]}"))
          .isEqualTo(200);
      assertThat(call(port, secret, "DELETE", "/v1/spaces/s", null)).isEqualTo(403);
      assertThat(call(port, admin, "GET", "/v1/tokens", null)).isEqualTo(200);
      assertThat(call(port, admin, "DELETE", "/v1/tokens/" + tokenId, null)).isEqualTo(200);
      assertThat(call(port, secret, "GET", "/v1/spaces/s", null)).isEqualTo(401);
      String forged = secret.substring(0, secret.length() - 4) + "AAAA";
      secrets.add(forged.substring(forged.indexOf('.') + 1));
      assertThat(call(port, forged, "GET", "/v1/spaces/s", null)).isEqualTo(401);
      assertThat(grpcFailure(first.grpcPort(), forged)).isEqualTo("UNAUTHENTICATED");
      assertThat(grpcFailure(first.grpcPort(), secret)).isEqualTo("UNAUTHENTICATED");
      HttpResponse<String> metrics = send(port, null, "GET", "/metrics", null);
      assertThat(metrics.statusCode()).isEqualTo(200);
    } finally {
      first.stop();
    }
    ServerProcess second = startServer(data, tmp.resolve("run2"));
    second.stop();
    assertThat(second.stdout()).doesNotContain("Admin token");

    String everything =
        first.stdout()
            + second.stdout()
            + first.stderr()
            + second.stderr()
            + Files.readString(data.resolve("audit.log"))
            + answers;
    assertThat(Files.readString(data.resolve("audit.log")))
        .contains("\"action\":\"token.issued\"")
        .contains("\"action\":\"token.revoked\"")
        .contains("\"token\":\"" + tokenId + "\"")
        .contains("\"action\":\"space.created\"");
    assertThat(count(everything, admin)).as("the admin token, printed once").isEqualTo(1);
    assertThat(count(first.stdout(), admin)).isEqualTo(1);
    String adminSecretPart = admin.substring(admin.indexOf('.') + 1);
    assertThat(count(everything, adminSecretPart)).isEqualTo(1);
    for (String s : secrets) {
      String secretPart = s.contains(".") ? s.substring(s.indexOf('.') + 1) : s;
      assertThat(everything).as("a token secret").doesNotContain(secretPart);
    }
  }

  @Test
  void tlsPrivateKey_neverAppearsInWhatTheServerPrints() throws Exception {
    SelfSignedCert.Pair pair =
        SelfSignedCert.write(tmp.resolve("tls"), SelfSignedCert.DEFAULT_HOSTS);
    Files.createDirectories(tmp.resolve("tls-run"));
    ServerProcess server =
        ServerProcess.start(
            tmp.resolve("tls-data"),
            tmp.resolve("tls-run").resolve("stderr.log"),
            "512m",
            "--tls-cert",
            pair.cert().toString(),
            "--tls-key",
            pair.key().toString(),
            "--fsync",
            "never");
    server.stop();
    String printed = server.stdout() + server.stderr();
    List<String> keyLines =
        Files.readAllLines(pair.key()).stream()
            .filter(l -> !l.startsWith("-----") && l.length() >= 16)
            .toList();
    assertThat(keyLines).isNotEmpty();
    for (String line : keyLines) {
      assertThat(printed).as("a line of the TLS private key").doesNotContain(line);
    }
    assertThat(printed).doesNotContain("PRIVATE KEY");
  }

  private String grpcFailure(int port, String token) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    try {
      Metadata md = new Metadata();
      md.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
      MemoryServiceGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("s").build());
      return "OK";
    } catch (StatusRuntimeException e) {
      answers.append(e.getStatus()).append('\n');
      return e.getStatus().getCode().name();
    } finally {
      channel.shutdownNow();
    }
  }

  private int call(int port, String token, String method, String path, String body)
      throws Exception {
    return send(port, token, method, path, body).statusCode();
  }

  private HttpResponse<String> send(int port, String token, String method, String path, String body)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.method(method, HttpRequest.BodyPublishers.ofString(body))
          .header("Content-Type", "application/json");
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (!path.equals("/v1/tokens") || !method.equals("POST")) {
      answers.append(r.headers().map()).append(r.body()).append('\n'); // the issue answer holds it
    }
    return r;
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  /** {@code engram serve} with auth on (the default), on free ports. */
  private static ServerProcess startServer(Path data, Path logs) throws IOException {
    Files.createDirectories(logs);
    return ServerProcess.start(data, logs.resolve("stderr.log"), "512m", "--fsync", "never");
  }
}
