package dev.engram.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.engram.core.Caller;
import dev.engram.core.EngramConfig;
import dev.engram.core.auth.Right;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.ForgetRequest;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.IssueTokenRequest;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.ListTokensRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.RevokeTokenRequest;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.TokenRight;
import dev.engram.server.grpc.AuthInterceptor;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every call on every door (gRPC unary and stream, REST, WebSocket) × every kind of credential: the
 * exact status each time, and for every refused call the stored data (spaces, episodes, tokens)
 * unchanged and no data in the answer.
 */
class AuthMatrixTest {
  private static final String ADMIN = "matrix-admin-token-0123456789abcdef";
  private static final int DIM = 4;

  /** The credential a call carries. */
  enum Cred {
    NONE,
    WRONG_SPACE, // admin rights, but in space b
    READ_ONLY, // read in space a
    REVOKED,
    EXPIRED,
    VALID // admin rights in space a; the admin token for admin-only calls
  }

  /** What a call needs. */
  enum Need {
    READ,
    WRITE,
    SPACE_ADMIN,
    ROOT,
    LIST
  }

  @TempDir static Path dir;
  static EngramServer server;
  static ManagedChannel channel;
  static final HttpClient http = HttpClient.newHttpClient();
  static final AtomicReference<Instant> now = new AtomicReference<>(Instant.now());
  static final Map<Cred, String> bearer = new TreeMap<>();
  static String validSpaceTokenId;

  @BeforeAll
  static void start() throws Exception {
    InstantSource clock = () -> now.get();
    server =
        EngramServer.start(
            0,
            HttpOptions.onPort(0),
            ListenOptions.loopback(),
            StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
            EngramConfig.builder().workers(1).clock(clock).build(),
            EngramMetrics.prometheus(),
            new AccessOptions(true, ADMIN));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    Caller admin = server.engine().caller("Bearer " + ADMIN);
    SpaceId a = SpaceId.of("a");
    bearer.put(Cred.NONE, null);
    bearer.put(
        Cred.WRONG_SPACE,
        admin.issueToken(SpaceId.of("b"), Set.of(Right.ADMIN), null, "").secret());
    bearer.put(Cred.READ_ONLY, admin.issueToken(a, Set.of(Right.READ), null, "").secret());
    var revoked = admin.issueToken(a, Set.of(Right.ADMIN), null, "");
    admin.revokeToken(revoked.info().id());
    bearer.put(Cred.REVOKED, revoked.secret());
    bearer.put(
        Cred.EXPIRED, admin.issueToken(a, Set.of(Right.ADMIN), Duration.ofMinutes(1), "").secret());
    now.set(now.get().plus(Duration.ofMinutes(2)));
    var valid = admin.issueToken(a, Set.of(Right.ADMIN), null, "");
    validSpaceTokenId = valid.info().id();
    bearer.put(Cred.VALID, valid.secret());
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    server.shutdown();
  }

  @BeforeEach
  void reset() {
    var engine = server.engine();
    for (SpaceInfo s : engine.listSpaces()) {
      engine.deleteSpace(s.config().id());
    }
    for (String id : List.of("a", "b")) {
      engine.createSpace(new SpaceConfig(SpaceId.of(id), DIM, Metric.DOT));
      engine.remember(SpaceId.of(id), List.of(episode("e1")));
    }
  }

  // ---- unary calls, gRPC and REST ----

  /** One call on both doors: each returns the status it got (gRPC code name / HTTP status). */
  record Call(
      String name, Need need, Function<String, String> grpc, Function<String, Integer> rest) {}

  List<Call> calls() {
    String ep = "{\"id\":\"new\",\"embedding\":[1,0,0,0]}";
    String recall = "{\"embedding\":[1,0,0,0],\"k\":3}";
    return List.of(
        new Call(
            "GetSpace",
            Need.READ,
            t ->
                grpc(
                    t, s -> s.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("a").build())),
            t -> rest(t, "GET", "/v1/spaces/a", null)),
        new Call(
            "ListSpaces",
            Need.LIST,
            t -> grpc(t, s -> s.listSpaces(ListSpacesRequest.getDefaultInstance())),
            t -> rest(t, "GET", "/v1/spaces", null)),
        new Call(
            "Remember",
            Need.WRITE,
            t ->
                grpc(
                    t,
                    s ->
                        s.remember(
                            RememberRequest.newBuilder()
                                .setMemorySpaceId("a")
                                .addEpisodes(protoEpisode("new"))
                                .build())),
            t -> rest(t, "POST", "/v1/spaces/a/episodes", ep)),
        new Call(
            "Recall",
            Need.READ,
            t -> grpc(t, s -> s.recall(recallRequest())),
            t -> rest(t, "POST", "/v1/spaces/a/recall", recall)),
        new Call(
            "GetEpisode",
            Need.READ,
            null, // REST only
            t -> rest(t, "GET", "/v1/spaces/a/episodes/e1", null)),
        new Call(
            "Forget",
            Need.SPACE_ADMIN,
            t ->
                grpc(
                    t,
                    s ->
                        s.forget(
                            ForgetRequest.newBuilder().setMemorySpaceId("a").addIds("e1").build())),
            t -> rest(t, "DELETE", "/v1/spaces/a/episodes/e1", null)),
        new Call(
            "DeleteSpace",
            Need.SPACE_ADMIN,
            t ->
                grpc(
                    t,
                    s ->
                        s.deleteSpace(
                            DeleteSpaceRequest.newBuilder().setMemorySpaceId("a").build())),
            t -> rest(t, "DELETE", "/v1/spaces/a", null)),
        new Call(
            "CreateSpace",
            Need.ROOT,
            t ->
                grpc(
                    t,
                    s ->
                        s.createSpace(
                            CreateSpaceRequest.newBuilder()
                                .setMemorySpaceId("c")
                                .setDimension(DIM)
                                .setMetric(dev.engram.proto.v1.Metric.METRIC_DOT)
                                .build())),
            t ->
                rest(
                    t,
                    "POST",
                    "/v1/spaces",
                    "{\"memorySpaceId\":\"c\",\"dimension\":4,\"metric\":\"METRIC_DOT\"}")),
        new Call(
            "IssueToken",
            Need.ROOT,
            t ->
                grpc(
                    t,
                    s ->
                        s.issueToken(
                            IssueTokenRequest.newBuilder()
                                .setMemorySpaceId("a")
                                .addRights(TokenRight.TOKEN_RIGHT_READ)
                                .build())),
            t ->
                rest(
                    t,
                    "POST",
                    "/v1/tokens",
                    "{\"memorySpaceId\":\"a\",\"rights\":[\"TOKEN_RIGHT_READ\"]}")),
        new Call(
            "ListTokens",
            Need.ROOT,
            t -> grpc(t, s -> s.listTokens(ListTokensRequest.getDefaultInstance())),
            t -> rest(t, "GET", "/v1/tokens", null)),
        new Call(
            "RevokeToken",
            Need.ROOT,
            t ->
                grpc(
                    t,
                    s ->
                        s.revokeToken(
                            RevokeTokenRequest.newBuilder().setId(validSpaceTokenId).build())),
            t -> rest(t, "DELETE", "/v1/tokens/" + validSpaceTokenId, null)));
  }

  @Test
  void unaryCalls_everyDoor_everyCredential() {
    List<String> mismatches = new ArrayList<>();
    int checked = 0;
    for (Call call : calls()) {
      for (Cred cred : Cred.values()) {
        if (call.need() == Need.ROOT && cred == Cred.VALID) {
          continue; // checked last: the valid admin call changes state (revokes the valid token)
        }
        String expected = expected(call.need(), cred);
        for (String door : call.grpc() == null ? List.of("rest") : List.of("grpc", "rest")) {
          reset();
          String before = digest();
          String token = token(call.need(), cred);
          String got =
              door.equals("grpc") ? call.grpc().apply(token) : codeOf(call.rest().apply(token));
          checked++;
          if (!got.equals(expected)) {
            mismatches.add(
                "%s %s %s: expected %s, got %s".formatted(door, call.name(), cred, expected, got));
          }
          if (!expected.equals("OK") && !digest().equals(before)) {
            mismatches.add(
                "%s %s %s: refused but changed the store".formatted(door, call.name(), cred));
          }
        }
      }
    }
    // The admin token's own calls (RevokeToken revokes the space token: re-issue for later tests).
    for (Call call : calls()) {
      if (call.need() != Need.ROOT) {
        continue;
      }
      for (String door : List.of("grpc", "rest")) {
        reset();
        String got =
            door.equals("grpc") ? call.grpc().apply(ADMIN) : codeOf(call.rest().apply(ADMIN));
        checked++;
        if (!got.equals("OK")) {
          mismatches.add("%s %s admin: expected OK, got %s".formatted(door, call.name(), got));
        }
        if (call.name().equals("RevokeToken")) {
          var again =
              server
                  .engine()
                  .caller("Bearer " + ADMIN)
                  .issueToken(SpaceId.of("a"), Set.of(Right.ADMIN), null, "");
          validSpaceTokenId = again.info().id();
          bearer.put(Cred.VALID, again.secret());
        }
      }
    }
    assertThat(mismatches).isEmpty();
    assertThat(checked).isEqualTo((calls().size() * 2 - 1) * Cred.values().length);
  }

  @Test
  void listSpaces_showsOnlyWhatTheTokenMaySee() throws Exception {
    assertThat(listedByRest(bearer.get(Cred.READ_ONLY))).containsExactly("a");
    assertThat(listedByRest(bearer.get(Cred.WRONG_SPACE))).containsExactly("b");
    assertThat(listedByRest(ADMIN)).containsExactlyInAnyOrder("a", "b");
    assertThat(
            MemoryServiceGrpc.newBlockingStub(channel)
                .withInterceptors(
                    MetadataUtils.newAttachHeadersInterceptor(auth(bearer.get(Cred.READ_ONLY))))
                .listSpaces(ListSpacesRequest.getDefaultInstance())
                .getSpacesList())
        .extracting(dev.engram.proto.v1.Space::getMemorySpaceId)
        .containsExactly("a");
  }

  @Test
  void missingSpace_answersLikeForbiddenSpace() throws Exception {
    String token = bearer.get(Cred.READ_ONLY);
    HttpResponse<String> forbidden = send(token, "GET", "/v1/spaces/b", null);
    HttpResponse<String> missing = send(token, "GET", "/v1/spaces/b-gone", null);
    assertThat(forbidden.statusCode()).isEqualTo(403);
    assertThat(missing.statusCode()).isEqualTo(403);
    assertThat(missing.body().replace("b-gone", "b")).isEqualTo(forbidden.body());
    Status f = grpcStatus(token, "b");
    Status m = grpcStatus(token, "b-gone");
    assertThat(f.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(m.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(m.getDescription().replace("b-gone", "b")).isEqualTo(f.getDescription());
  }

  @Test
  void httpErrors_haveTheOneJsonShape() throws Exception {
    HttpResponse<String> none = send(null, "GET", "/v1/spaces/a", null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.body()).contains("\"code\":\"UNAUTHENTICATED\"");
    HttpResponse<String> denied = send(bearer.get(Cred.READ_ONLY), "DELETE", "/v1/spaces/a", null);
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.body()).contains("\"code\":\"PERMISSION_DENIED\"");
    // health, readiness and metrics stay open
    assertThat(send(null, "GET", "/healthz", null).statusCode()).isEqualTo(200);
    assertThat(send(null, "GET", "/readyz", null).statusCode()).isEqualTo(200);
    assertThat(send(null, "GET", "/metrics", null).statusCode()).isEqualTo(200);
  }

  // ---- streams, gRPC and WebSocket ----

  /**
   * What a stream got: how it ended (OK if still open), whether its observation was acked, recall.
   */
  record StreamOutcome(String end, boolean acked, String recall) {}

  @Test
  void streams_everyDoor_everyCredential() throws Exception {
    List<String> mismatches = new ArrayList<>();
    for (Cred cred : Cred.values()) {
      for (String door : List.of("grpc-metadata", "grpc-init", "ws-header", "ws-init")) {
        reset();
        String before = digest();
        StreamOutcome got = stream(door, bearer.get(cred));
        StreamOutcome expected =
            switch (cred) {
              case NONE, REVOKED, EXPIRED -> new StreamOutcome("UNAUTHENTICATED", false, "");
              case WRONG_SPACE -> new StreamOutcome("PERMISSION_DENIED", false, "");
              case READ_ONLY -> new StreamOutcome("PERMISSION_DENIED", false, "OK");
              case VALID -> new StreamOutcome("OK", true, "OK");
            };
        if (!got.equals(expected)) {
          mismatches.add("%s %s: expected %s, got %s".formatted(door, cred, expected, got));
        }
        if (cred != Cred.VALID && !digest().equals(before)) {
          mismatches.add("%s %s: refused but changed the store".formatted(door, cred));
        }
      }
    }
    assertThat(mismatches).isEmpty();
  }

  @Test
  void stream_tokenRevokedWhileOpen_endsAtTheNextObservation() throws Exception {
    Caller admin = server.engine().caller("Bearer " + ADMIN);
    var issued = admin.issueToken(SpaceId.of("a"), Set.of(Right.WRITE), null, "");
    try (GrpcStream stream = GrpcStream.open(issued.secret())) {
      stream.send(init(""));
      StreamResponse ack = stream.next();
      assertThat(ack.hasInitAck()).isTrue();
      admin.revokeToken(issued.info().id());
      String before = digest();
      stream.send(
          StreamRequest.newBuilder()
              .setMemorySpaceId("a")
              .setSequenceNumber(ack.getInitAck().getNextSequence())
              .setObservation(protoEpisode("streamed"))
              .build());
      assertThat(stream.end()).isEqualTo("UNAUTHENTICATED");
      assertThat(digest()).isEqualTo(before);
    }
  }

  @Test
  void webSocket_tokenInQueryString_isIgnored() throws Exception {
    WsStream ws = WsStream.open(server.httpPort(), "a&token=" + bearer.get(Cred.VALID), null);
    ws.send(init(""));
    assertThat(ws.end()).isEqualTo("UNAUTHENTICATED");
  }

  /**
   * Opens a stream on space a, sends init, then (if it opened) a recall and an observation, in that
   * order: the recall comes first because an observation a read-only token may not make ends the
   * stream.
   */
  private StreamOutcome stream(String door, String token) throws Exception {
    boolean inInit = door.endsWith("init");
    String initAuth = inInit && token != null ? "Bearer " + token : "";
    String transport = inInit ? null : token;
    StreamClient client =
        door.startsWith("grpc")
            ? GrpcStream.open(transport)
            : WsStream.open(server.httpPort(), "a", transport);
    client.send(init(initAuth));
    StreamResponse first = client.next();
    if (first == null || !first.hasInitAck()) {
      return new StreamOutcome(client.end(), false, "");
    }
    client.send(
        StreamRequest.newBuilder()
            .setMemorySpaceId("a")
            .setRecall(recallRequest().toBuilder().setRequestId("r1"))
            .build());
    String recall = "";
    StreamResponse r;
    while ((r = client.next()) != null) {
      if (r.hasRecall()) {
        recall = "OK";
        break;
      }
      if (r.hasRejection()) {
        recall = Status.fromCodeValue(r.getRejection().getCode()).getCode().name();
        break;
      }
    }
    client.send(
        StreamRequest.newBuilder()
            .setMemorySpaceId("a")
            .setSequenceNumber(first.getInitAck().getNextSequence())
            .setObservation(protoEpisode("streamed"))
            .build());
    boolean acked = false;
    while ((r = client.next()) != null) {
      if (r.hasAck() && r.getAck().getAcceptedThrough() >= first.getInitAck().getNextSequence()) {
        acked = true;
        break;
      }
    }
    String end = acked ? "OK" : client.end();
    client.close();
    return new StreamOutcome(end, acked, recall);
  }

  private static StreamRequest init(String authorization) {
    return StreamRequest.newBuilder()
        .setMemorySpaceId("a")
        .setInit(StreamInit.newBuilder().setAuthorization(authorization))
        .build();
  }

  interface StreamClient extends AutoCloseable {
    void send(StreamRequest request) throws Exception;

    /** The next response, or null once the stream has ended (or after 10 s). */
    StreamResponse next() throws InterruptedException;

    /** How the stream ended: a status code name. */
    String end() throws Exception;

    @Override
    void close();
  }

  static final class GrpcStream implements StreamClient {
    private static final StreamResponse END = StreamResponse.getDefaultInstance();
    final BlockingQueue<StreamResponse> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<StreamRequest> requests;

    static GrpcStream open(String token) {
      GrpcStream s = new GrpcStream();
      var stub = MemoryServiceGrpc.newStub(channel);
      if (token != null) {
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth(token)));
      }
      s.requests =
          stub.stream(
              new StreamObserver<>() {
                @Override
                public void onNext(StreamResponse value) {
                  s.responses.add(value);
                }

                @Override
                public void onError(Throwable t) {
                  s.ended.complete(Status.fromThrowable(t));
                  s.responses.add(END);
                }

                @Override
                public void onCompleted() {
                  s.ended.complete(Status.OK);
                  s.responses.add(END);
                }
              });
      return s;
    }

    @Override
    public void send(StreamRequest request) {
      if (!ended.isDone()) {
        requests.onNext(request);
      }
    }

    @Override
    public StreamResponse next() throws InterruptedException {
      StreamResponse r = responses.poll(10, TimeUnit.SECONDS);
      return r == END ? null : r;
    }

    @Override
    public String end() throws Exception {
      return ended.get(10, TimeUnit.SECONDS).getCode().name();
    }

    @Override
    public void close() {
      if (!ended.isDone()) {
        requests.onCompleted();
      }
    }
  }

  static final class WsStream implements StreamClient, WebSocket.Listener {
    private static final StreamResponse END = StreamResponse.getDefaultInstance();
    final BlockingQueue<StreamResponse> responses = new LinkedBlockingQueue<>();
    final CompletableFuture<String> ended = new CompletableFuture<>();
    final StringBuilder partial = new StringBuilder();
    WebSocket ws;

    static WsStream open(int port, String space, String token) {
      WsStream s = new WsStream();
      var builder = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
      if (token != null) {
        builder.header("Authorization", "Bearer " + token);
      }
      s.ws =
          builder
              .buildAsync(URI.create("ws://127.0.0.1:" + port + "/v1/stream?space=" + space), s)
              .orTimeout(10, TimeUnit.SECONDS)
              .join();
      return s;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        try {
          StreamResponse.Builder b = StreamResponse.newBuilder();
          JsonFormat.parser().merge(partial.toString(), b);
          StreamResponse r = b.build();
          if (r.hasError()) {
            ended.complete(Status.fromCodeValue(r.getError().getCode()).getCode().name());
          } else {
            responses.add(r);
          }
        } catch (Exception e) {
          ended.completeExceptionally(e);
        }
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      ended.complete(statusCode == 1000 ? "OK" : "closed " + statusCode);
      responses.add(END);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      ended.complete("error " + error);
      responses.add(END);
    }

    @Override
    public void send(StreamRequest request) throws Exception {
      if (!ended.isDone()) {
        ws.sendText(JsonFormat.printer().print(request), true).get(10, TimeUnit.SECONDS);
      }
    }

    @Override
    public StreamResponse next() throws InterruptedException {
      if (ended.isDone() && responses.isEmpty()) {
        return null;
      }
      StreamResponse r = responses.poll(10, TimeUnit.SECONDS);
      return r == END ? null : r;
    }

    @Override
    public String end() throws Exception {
      return ended.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
      ws.abort();
    }
  }

  // ---- helpers ----

  private static String expected(Need need, Cred cred) {
    return switch (cred) {
      case NONE, REVOKED, EXPIRED -> "UNAUTHENTICATED";
      case VALID -> "OK";
      case WRONG_SPACE -> need == Need.LIST ? "OK" : "PERMISSION_DENIED";
      case READ_ONLY -> need == Need.LIST || need == Need.READ ? "OK" : "PERMISSION_DENIED";
    };
  }

  private static String token(Need need, Cred cred) {
    return need == Need.ROOT && cred == Cred.VALID ? ADMIN : bearer.get(cred);
  }

  /** Spaces with their episode counts and ids, and the tokens: what no refused call may change. */
  private static String digest() {
    StringBuilder out = new StringBuilder();
    for (SpaceInfo s :
        server.engine().listSpaces().stream()
            .sorted((x, y) -> x.config().id().value().compareTo(y.config().id().value()))
            .toList()) {
      SpaceId id = s.config().id();
      out.append(id)
          .append(':')
          .append(s.episodeCount())
          .append(server.engine().episode(id, "e1") != null)
          .append(server.engine().episode(id, "new") != null)
          .append(server.engine().episode(id, "streamed") != null)
          .append(';');
    }
    server.engine().auth().tokens().list().forEach(t -> out.append(t.id()).append(','));
    return out.toString();
  }

  private static Metadata auth(String token) {
    Metadata md = new Metadata();
    md.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return md;
  }

  private static String grpc(
      String token, Function<MemoryServiceGrpc.MemoryServiceBlockingStub, Object> call) {
    var stub = MemoryServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    if (token != null) {
      stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth(token)));
    }
    try {
      call.apply(stub);
      return "OK";
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode().name();
    }
  }

  private static Status grpcStatus(String token, String space) {
    try {
      MemoryServiceGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth(token)))
          .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(space).build());
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  private static int rest(String token, String method, String path, String body) {
    try {
      return send(token, method, path, body).statusCode();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static HttpResponse<String> send(String token, String method, String path, String body)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
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
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static List<String> listedByRest(String token) throws Exception {
    String body = send(token, "GET", "/v1/spaces", null).body();
    var b = dev.engram.proto.v1.ListSpacesResponse.newBuilder();
    JsonFormat.parser().merge(body, b);
    return b.getSpacesList().stream().map(dev.engram.proto.v1.Space::getMemorySpaceId).toList();
  }

  private static String codeOf(int httpStatus) {
    return switch (httpStatus) {
      case 200, 201 -> "OK";
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      default -> "HTTP " + httpStatus;
    };
  }

  private static RecallRequest recallRequest() {
    return RecallRequest.newBuilder()
        .setMemorySpaceId("a")
        .addAllEmbedding(List.of(1f, 0f, 0f, 0f))
        .setK(3)
        .build();
  }

  private static dev.engram.proto.v1.Episode protoEpisode(String id) {
    return dev.engram.proto.v1.Episode.newBuilder()
        .setId(id)
        .addAllEmbedding(List.of(1f, 0f, 0f, 0f))
        .build();
  }

  private static Episode episode(String id) {
    return new Episode(id, new float[] {1, 0, 0, 0}, "", Instant.now(), 1f, Map.of());
  }
}
