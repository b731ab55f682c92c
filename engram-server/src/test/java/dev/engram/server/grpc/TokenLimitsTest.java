package dev.engram.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.Caller;
import dev.engram.core.EngramConfig;
import dev.engram.core.auth.Right;
import dev.engram.core.model.SpaceId;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.Resend;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.StreamState;
import dev.engram.server.AccessOptions;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-token limits over real gRPC (and REST): {@code --max-streams-per-token} refuses one
 * stream too many and makes room when one ends; {@code --token-rate} answers a stream with the
 * queue's own backpressure signals (nothing lost), and unary calls with {@code RESOURCE_EXHAUSTED}
 * / 429 and retry info; each refusal counts once in {@code engram_limit_refusals_total{limit}}.
 */
class TokenLimitsTest {
  private static final String ADMIN = "limits-admin-token-0123456789abcdef";
  private static final int MAX_STREAMS = 2;
  private static final int RATE = 50;

  @TempDir static Path dir;
  static EngramServer server;
  static final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    server =
        EngramServer.start(
            0,
            HttpOptions.onPort(0),
            ListenOptions.loopback(),
            StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
            EngramConfig.builder()
                .workers(1)
                .maxStreamsPerToken(MAX_STREAMS)
                .tokenRate(RATE)
                .build(),
            EngramMetrics.prometheus(),
            new AccessOptions(true, ADMIN));
    for (String space : List.of("streams", "rate")) {
      MemoryServiceGrpc.newBlockingStub(channel(ADMIN))
          .createSpace(
              CreateSpaceRequest.newBuilder()
                  .setMemorySpaceId(space)
                  .setDimension(4)
                  .setMetric(Metric.METRIC_COSINE)
                  .build());
    }
  }

  @AfterAll
  static void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    server.close();
  }

  @Test
  void oneStreamTooMany_refusedThenAcceptedAfterOneCloses() throws Exception {
    ManagedChannel channel = channel(token("streams"));
    double before = refusals("streams_per_token");
    try (TestStream first = new TestStream(channel, "streams");
        TestStream second = new TestStream(channel, "streams");
        TestStream third = new TestStream(channel, "streams")) {
      first.init();
      second.init();
      third.send(init("streams"));
      Status refused = third.awaitEnd();
      assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(refused.getDescription()).contains("--max-streams-per-token 2");
      assertThat(refusals("streams_per_token") - before).isEqualTo(1);

      first.closeStream(false);
      assertThat(first.awaitEnd().getCode()).isEqualTo(Status.Code.OK);
      try (TestStream fourth = new TestStream(channel, "streams")) {
        assertThat(fourth.init().hasInitAck()).isTrue();
        fourth.closeStream(false);
        fourth.awaitEnd();
      }
      second.closeStream(false);
      second.awaitEnd();
    }
    // A stream that ends without a close message gives its slot back too: two fresh streams open.
    TestStream halfClosed = new TestStream(channel, "streams");
    halfClosed.init();
    halfClosed.close();
    halfClosed.awaitEnd();
    try (TestStream a = new TestStream(channel, "streams");
        TestStream b = new TestStream(channel, "streams")) {
      assertThat(a.init().hasInitAck()).isTrue();
      assertThat(b.init().hasInitAck()).isTrue();
    }
    assertThat(refusals("streams_per_token") - before).isEqualTo(1);
  }

  @Test
  void tokenRate_streamResendsLosingNothing_unaryAndRestRefusedWithRetry() throws Exception {
    String secret = token("rate");
    ManagedChannel channel = channel(secret);
    HttpClient http = HttpClient.newHttpClient();
    double before = refusals("token_rate");
    int total = 2 * RATE + 10;
    SplittableRandom random = new SplittableRandom(14);
    List<Episode> episodes = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      episodes.add(Episodes.episode("e" + i, Episodes.vector(random, 4)));
    }

    int resends = 0;
    try (TestStream stream = new TestStream(channel, "rate")) {
      stream.init();
      stream.observeBatch(1, episodes);
      int seen = 0;
      while (true) {
        StreamResponse r = next(stream, seen, total);
        seen = stream.responses.indexOf(r) + 1;
        if (r.hasAck()) {
          break;
        }
        Resend resend = r.getResend();
        assertThat(resend.getReason()).isEqualTo(ResendReason.RESEND_REASON_OVERLOADED);
        assertThat(resend.getRetryAfterMs()).isPositive();
        resends++;
        Thread.sleep(resend.getRetryAfterMs());
        int from = (int) resend.getFromSequence();
        stream.observeBatch(from, episodes.subList(from - 1, total));
      }
      assertThat(resends).isGreaterThanOrEqualTo(2); // 110 at 50/s with a burst of 50
      assertThat(
              stream.matching(
                  r ->
                      r.hasStatus()
                          && r.getStatus().getState() == StreamState.STREAM_STATE_OVERLOADED))
          .first()
          .satisfies(r -> assertThat(r.getStatus().getMessage()).contains("--token-rate 50/s"));
      stream.closeStream(false);
      stream.awaitEnd();
    }
    var admin = MemoryServiceGrpc.newBlockingStub(channel(ADMIN));
    assertThat(
            admin
                .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("rate").build())
                .getEpisodeCount())
        .isEqualTo(total); // every observation stored once
    assertThat(refusals("token_rate") - before).isEqualTo(resends);

    // Unary: once the bucket is full, a call larger than it goes through and leaves it in debt
    // (4 s of it); the next calls wait, told how long.
    // The stream above may have left the bucket short: ask until the server takes the big call,
    // waiting each time as long as its refusal says (no fixed sleep).
    var writer = MemoryServiceGrpc.newBlockingStub(channel);
    List<?> big = null;
    int waits = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (big == null) {
      try {
        big = writer.remember(batch("u", 5 * RATE, random)).getIdsList();
      } catch (StatusRuntimeException e) {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(System.nanoTime()).as("bucket never refilled").isLessThan(deadline);
        waits++;
        Thread.sleep(Integer.parseInt(e.getTrailers().get(MemoryServiceImpl.RETRY_AFTER_MS)));
      }
    }
    assertThat(big).hasSize(5 * RATE);
    StatusRuntimeException refused =
        (StatusRuntimeException)
            org.assertj.core.api.Assertions.catchThrowable(
                () -> writer.remember(batch("v", 10, random)));
    assertThat(refused).isNotNull();
    assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refused.getStatus().getDescription()).contains("--token-rate 50/s");
    int retryMs = Integer.parseInt(refused.getTrailers().get(MemoryServiceImpl.RETRY_AFTER_MS));
    assertThat(retryMs).isGreaterThan(1000);
    assertThat(StatusProto.fromThrowable(refused).getDetailsList())
        .anySatisfy(d -> assertThat(d.is(com.google.rpc.RetryInfo.class)).isTrue());

    HttpResponse<String> rest =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + server.httpPort() + "/v1/spaces/rate/episodes"))
                .header("Authorization", "Bearer " + secret)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"embedding\":[1,0,0,1]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(rest.statusCode()).isEqualTo(429);
    assertThat(rest.headers().firstValue("Retry-After")).isPresent();
    assertThat(rest.body()).contains("RESOURCE_EXHAUSTED").contains("--token-rate 50/s");
    assertThat(refusals("token_rate") - before).isEqualTo(resends + waits + 2);
    assertThat(
            admin
                .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("rate").build())
                .getEpisodeCount())
        .isEqualTo(total + 5 * RATE); // nothing of the refused calls stored
  }

  private static RememberRequest batch(String prefix, int n, SplittableRandom random) {
    RememberRequest.Builder b = RememberRequest.newBuilder().setMemorySpaceId("rate");
    for (int i = 0; i < n; i++) {
      b.addEpisodes(Episodes.episode(prefix + i, Episodes.vector(random, 4)));
    }
    return b.build();
  }

  /** The first Resend, or the ack through {@code total}, after response {@code from}. */
  private static StreamResponse next(TestStream stream, int from, int total) {
    return stream.await(
        r -> {
          int at = stream.responses.indexOf(r);
          return at >= from
              && (r.hasResend() || (r.hasAck() && r.getAck().getAcceptedThrough() >= total));
        });
  }

  private static dev.engram.proto.v1.StreamRequest init(String space) {
    return dev.engram.proto.v1.StreamRequest.newBuilder()
        .setMemorySpaceId(space)
        .setInit(dev.engram.proto.v1.StreamInit.newBuilder().setEnableBackpressure(true))
        .build();
  }

  private static String token(String space) {
    Caller admin = server.engine().caller("Bearer " + ADMIN);
    return admin.issueToken(SpaceId.of(space), Set.of(Right.READ, Right.WRITE), null, "").secret();
  }

  private static ManagedChannel channel(String secret) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + secret);
    ManagedChannel c =
        NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
            .usePlaintext()
            .intercept(MetadataUtils.newAttachHeadersInterceptor(headers))
            .build();
    channels.add(c);
    return c;
  }

  private static double refusals(String limit) {
    return server
        .metrics()
        .registry()
        .get("engram.limit.refusals")
        .tag("limit", limit)
        .counter()
        .count();
  }
}
