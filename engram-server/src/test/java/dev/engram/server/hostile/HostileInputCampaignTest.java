package dev.engram.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.engram.core.EngramConfig;
import dev.engram.core.model.Episode;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.FlowControl;
import dev.engram.proto.v1.ForgetRequest;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.server.EngramServer;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.metrics.EngramMetrics;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * A property-based campaign of hostile input against one real server (gRPC and HTTP on loopback):
 * malformed protobuf frames, wrong JSON types, huge and deeply nested JSON, invalid UTF-8, unicode
 * and path-like ids ({@code ../}, {@code %2F}, NUL), NaN and infinities, negative and enormous
 * numbers, on every unary call, the gRPC stream before and after init, every REST endpoint and the
 * WebSocket stream.
 *
 * <p>Each input must get an answer (or a close) within a bound, never {@code INTERNAL}/{@code
 * UNKNOWN}, an HTTP 500 or a WebSocket 1011; and after every rejected input a digest of everything
 * stored (all spaces, all their episodes) must be what it was. Inputs that happen to be valid are
 * allowed to change the data (the digest is taken again after them).
 *
 * <p>Tries per property: {@code jqwik.tries.default} (40 in src/test/resources; raise it with
 * {@code -Djqwik.tries.default=2000} for a long run). The number of inputs tried is printed.
 */
class HostileInputCampaignTest {
  private static final String SERVICE = MemoryServiceGrpc.SERVICE_NAME;
  private static final List<String> VICTIMS = List.of("victim-cos", "victim-dot");
  private static final int DIM = 4;
  private static final int SEEDED = 20;
  private static final Duration BOUND = Duration.ofSeconds(10);
  private static final AtomicLong TRIED = new AtomicLong();
  private static final AtomicLong CLOSED_CONNECTIONS = new AtomicLong();
  private static final Map<String, AtomicLong> BY_DOOR = new ConcurrentHashMap<>();

  private static Path dir;
  private static EngramServer server;
  private static ManagedChannel channel;
  private static HttpClient http;
  private static String digest;

  @BeforeContainer
  static void start() throws IOException {
    dir = Files.createTempDirectory("engram-hostile");
    server =
        EngramServer.start(
            0,
            HttpOptions.onPort(0),
            StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER),
            EngramConfig.builder().workers(1).build(),
            EngramMetrics.prometheus());
    channel =
        Grpc.newChannelBuilder(
                "localhost:" + server.grpcPort(), InsecureChannelCredentials.create())
            .build();
    http = HttpClient.newBuilder().connectTimeout(BOUND).build();
    var stub = MemoryServiceGrpc.newBlockingStub(channel);
    Random random = new Random(1);
    for (String victim : VICTIMS) {
      stub.createSpace(
          CreateSpaceRequest.newBuilder()
              .setMemorySpaceId(victim)
              .setDimension(DIM)
              .setMetric(victim.endsWith("cos") ? Metric.METRIC_COSINE : Metric.METRIC_DOT)
              .build());
      RememberRequest.Builder seed = RememberRequest.newBuilder().setMemorySpaceId(victim);
      for (int i = 0; i < SEEDED; i++) {
        seed.addEpisodes(
            dev.engram.proto.v1.Episode.newBuilder()
                .setId("seed-" + i)
                .setContent("seeded " + i)
                .putMetadata("n", Integer.toString(i))
                .addAllEmbedding(
                    List.of(
                        random.nextFloat() + 0.1f,
                        random.nextFloat(),
                        random.nextFloat(),
                        -random.nextFloat())));
      }
      stub.remember(seed.build());
    }
    digest = digest();
  }

  @AfterContainer
  static void stop() throws InterruptedException {
    System.out.printf(
        "HostileInputCampaignTest: %d hostile inputs tried (%s); stored data unchanged by every"
            + " rejected one%n",
        TRIED.get(), BY_DOOR);
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdown();
  }

  // ---- properties ----

  @Property
  void grpcUnary_malformedBytes_invalidArgumentNeverInternal(
      @ForAll("unaryMethods") String method, @ForAll("malformedFrames") byte[] frame) {
    Status status = callRaw(method, frame);
    assertClean("gRPC " + method, status);
    settle(!status.isOk());
    count("grpc-bytes");
  }

  @Property
  void grpcUnary_hostileFields_clearErrors(
      @ForAll("unaryMethods") String method,
      @ForAll("hostileStrings") String text,
      @ForAll("hostileNumbers") long number,
      @ForAll("hostileFloats") float value,
      @ForAll long seed) {
    Random random = new Random(seed);
    Message request = hostileRequest(method, text, number, value, random);
    Status status = callRaw(method, request.toByteArray());
    assertClean("gRPC " + method + " " + request, status);
    settle(!status.isOk());
    count("grpc-fields");
  }

  @Property
  void grpcStream_hostileFrames_answeredOrClosed(
      @ForAll boolean init,
      @ForAll("hostileStrings") String text,
      @ForAll("hostileNumbers") long number,
      @ForAll("hostileFloats") float value,
      @ForAll("malformedFrames") byte[] garbage,
      @ForAll long seed) {
    Random random = new Random(seed);
    List<byte[]> frames = new ArrayList<>();
    if (init) {
      frames.add(initFrame(random.nextBoolean() ? VICTIMS.get(0) : text).toByteArray());
    }
    int n = 1 + random.nextInt(3);
    for (int i = 0; i < n; i++) {
      frames.add(
          random.nextInt(4) == 0
              ? garbage
              : hostileStreamRequest(text, number, value, random).toByteArray());
    }
    frames.add(probe().toByteArray());
    StreamOutcome outcome = stream(frames);
    assertThat(outcome.finished())
        .as("stream answered the probe or closed within %s", BOUND)
        .isTrue();
    assertClean("gRPC stream", outcome.status() == null ? Status.OK : outcome.status());
    for (StreamResponse r : outcome.responses()) {
      assertThat(r.hasRejection() ? r.getRejection().getCode() : 0)
          .as("rejection %s", r)
          .isNotIn(13, 2);
      assertThat(r.hasError() ? r.getError().getCode() : 0).as("error %s", r).isNotIn(13, 2);
    }
    settle(true); // every observation sent is invalid
    count("grpc-stream");
  }

  @Property
  void rest_hostileRequests_neverServerError(
      @ForAll("hostileStrings") String id, @ForAll("jsonBodies") byte[] body, @ForAll long seed)
      throws Exception {
    Random random = new Random(seed);
    String space = random.nextBoolean() ? VICTIMS.get(random.nextInt(2)) : pathPart(id, random);
    String other = pathPart(id, random);
    String[][] routes = {
      {"POST", "/v1/spaces"},
      {"GET", "/v1/spaces/" + other},
      {"DELETE", "/v1/spaces/" + other},
      {"POST", "/v1/spaces/" + space + "/episodes"},
      {"GET", "/v1/spaces/" + space + "/episodes/" + other},
      {"DELETE", "/v1/spaces/" + space + "/episodes/" + other},
      {"POST", "/v1/spaces/" + space + "/recall"},
    };
    String[] route = routes[random.nextInt(routes.length)];
    URI uri;
    try {
      uri = URI.create("http://localhost:" + server.httpPort() + route[1]);
    } catch (IllegalArgumentException e) {
      return; // not a URI any client could send
    }
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(BOUND);
    if (route[0].equals("POST")) {
      request
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    } else {
      request.method(route[0], HttpRequest.BodyPublishers.noBody());
    }
    HttpResponse<String> response;
    try {
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      // The server closed the connection instead of answering: an answer, not a hang, and never
      // a 500. Counted and reported.
      CLOSED_CONNECTIONS.incrementAndGet();
      System.out.printf(
          "REST %s %.80s (%d body bytes): connection closed: %s%n",
          route[0], route[1], body.length, e);
      settle(true);
      count("rest");
      return;
    }
    assertThat(response.statusCode())
        .as("%s %s -> %s", route[0], route[1], response.body())
        .isLessThan(500);
    settle(response.statusCode() >= 300);
    count("rest");
  }

  @Property
  void webSocket_hostileFrames_answeredOrClosed(
      @ForAll boolean init,
      @ForAll("hostileStrings") String text,
      @ForAll("hostileNumbers") long number,
      @ForAll("hostileFloats") float value,
      @ForAll("jsonBodies") byte[] json,
      @ForAll long seed)
      throws Exception {
    Random random = new Random(seed);
    String space = random.nextBoolean() ? VICTIMS.get(0) : pathPart(text, random);
    URI uri;
    try {
      uri = URI.create("ws://localhost:" + server.httpPort() + "/v1/stream?space=" + space);
    } catch (IllegalArgumentException e) {
      return;
    }
    List<String> frames = new ArrayList<>();
    if (init) {
      frames.add("{\"init\":{}}");
    }
    int n = 1 + random.nextInt(3);
    for (int i = 0; i < n; i++) {
      frames.add(
          switch (random.nextInt(3)) {
            case 0 -> new String(json, StandardCharsets.UTF_8);
            case 1 -> json(hostileStreamRequest(text, number, value, random));
            default -> "{\"observation\":{\"embedding\":[" + value + "," + number + "]}}";
          });
    }
    frames.add(JsonFormat.printer().print(probe()));
    WsOutcome outcome = webSocket(uri, frames, random.nextInt(5) == 0);
    assertThat(outcome.finished())
        .as(
            "socket %s answered the probe or closed within %s; sent %s; got %s",
            uri, BOUND, visible(frames), visible(outcome.texts()))
        .isTrue();
    assertThat(outcome.closeCode()).as("close %s", outcome).isNotEqualTo(1011);
    assertThat(outcome.texts())
        .allSatisfy(
            t -> assertThat(t).doesNotContain("\"code\": 13").doesNotContain("\"code\": 2,"));
    settle(true);
    count("websocket");
  }

  // ---- the oracle ----

  /** After a rejected input the stored data must be unchanged; after an accepted one, re-read. */
  private static void settle(boolean rejected) {
    String now = digest();
    if (rejected) {
      assertThat(now).as("stored data changed by a rejected input").isEqualTo(digest);
    }
    digest = now;
  }

  /** SHA-256 over every space (config, count) and every seeded episode as stored. */
  static String digest() {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      List<SpaceInfo> spaces = new ArrayList<>(server.engine().listSpaces());
      spaces.sort(Comparator.comparing(s -> s.config().id().value()));
      for (SpaceInfo s : spaces) {
        sha.update((s.config() + "/" + s.episodeCount() + "\n").getBytes(StandardCharsets.UTF_8));
        if (VICTIMS.contains(s.config().id().value())) {
          for (int i = 0; i < SEEDED; i++) {
            Episode e = server.engine().episode(SpaceId.of(s.config().id().value()), "seed-" + i);
            sha.update(
                (e.id() + e.content() + e.metadata() + java.util.Arrays.toString(e.embedding()))
                    .getBytes(StandardCharsets.UTF_8));
          }
        }
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Control characters as escapes, so a failure report survives XML. */
  private static String visible(List<String> texts) {
    StringBuilder b = new StringBuilder();
    for (String t : texts) {
      t.chars()
          .forEach(
              c ->
                  b.append(
                      c < 0x20 || c >= 0x7F ? "\\u%04x".formatted(c) : String.valueOf((char) c)));
      b.append(" | ");
    }
    return b.toString();
  }

  private static void assertClean(String what, Status status) {
    assertThat(status.getCode())
        .as("%s answered %s", what, status)
        .isNotIn(Status.Code.INTERNAL, Status.Code.UNKNOWN, Status.Code.DEADLINE_EXCEEDED);
  }

  private static void count(String door) {
    TRIED.incrementAndGet();
    BY_DOOR.computeIfAbsent(door, d -> new AtomicLong()).incrementAndGet();
  }

  // ---- generators ----

  @Provide
  Arbitrary<String> unaryMethods() {
    return Arbitraries.of(
        "CreateSpace", "GetSpace", "ListSpaces", "DeleteSpace", "Remember", "Recall", "Forget");
  }

  @Provide
  Arbitrary<String> hostileStrings() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            "../",
            "../../etc/passwd",
            "..%2F..%2F",
            "%2F",
            "a/b",
            "\u0000",
            "a\u0000b",
            "..\\..\\",
            "%00",
            "",
            " ",
            "\uFEFF",
            "\uD800",
            "\uDFFF\uD800",
            "😀".repeat(40),
            "ｖｉｃｔｉｍ",
            "VICTIM-COS",
            "victim-cos/../victim-dot",
            "a".repeat(300),
            "%",
            "%zz",
            "?x=1",
            "#frag",
            "\n\r",
            "null",
            "-1",
            "NaN"),
        Arbitraries.strings().all().ofMaxLength(40),
        Arbitraries.strings().withCharRange('\u0000', '\u001f').ofMinLength(1).ofMaxLength(4));
  }

  @Provide
  Arbitrary<Long> hostileNumbers() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            -1L,
            0L,
            (long) Integer.MAX_VALUE,
            (long) Integer.MIN_VALUE,
            Long.MAX_VALUE,
            Long.MIN_VALUE,
            4_294_967_295L,
            1L << 40),
        Arbitraries.longs());
  }

  @Provide
  Arbitrary<Float> hostileFloats() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            Float.NaN,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            -0f,
            Float.MAX_VALUE,
            -Float.MAX_VALUE,
            Float.MIN_VALUE,
            1e38f,
            -1f,
            2f),
        Arbitraries.floats());
  }

  /** Bytes that are not (or are damaged) protobuf messages. */
  @Provide
  Arbitrary<byte[]> malformedFrames() {
    byte[] valid =
        RememberRequest.newBuilder()
            .setMemorySpaceId(VICTIMS.get(0))
            .addEpisodes(
                dev.engram.proto.v1.Episode.newBuilder()
                    .setId("x")
                    .addAllEmbedding(List.of(1f, 2f, 3f, 4f)))
            .build()
            .toByteArray();
    return Arbitraries.oneOf(
        Arbitraries.bytes().array(byte[].class).ofMaxSize(64),
        Arbitraries.integers()
            .between(1, valid.length - 1)
            .map(n -> java.util.Arrays.copyOf(valid, n)), // truncated
        Arbitraries.integers()
            .between(0, valid.length - 1)
            .map(
                i -> {
                  byte[] b = valid.clone();
                  b[i] ^= (byte) 0xA5; // a damaged byte
                  return b;
                }),
        Arbitraries.of(
            new byte[] {0x0A, 0x03, (byte) 0xFF, (byte) 0xFE, (byte) 0xC3}, // invalid UTF-8 string
            new byte[] {0x0A, 0x7F}, // a length past the end
            new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F}, // bad tag
            new byte[] {0x0B}, // start group
            new byte[] {
              0x12,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              (byte) 0x80,
              0x01
            })); // overlong varint
  }

  /** JSON bodies of the wrong shape, types and sizes, and bytes that are not UTF-8. */
  @Provide
  Arbitrary<byte[]> jsonBodies() {
    return Arbitraries.oneOf(
        Arbitraries.of(
                "",
                "null",
                "[]",
                "\"x\"",
                "{",
                "{\"memorySpaceId\":1,\"dimension\":\"four\"}",
                "{\"memorySpaceId\":\"x\",\"dimension\":-4}",
                "{\"memorySpaceId\":\"x\",\"dimension\":99999999999999999999}",
                "{\"memorySpaceId\":\"../x\",\"dimension\":4}",
                "{\"memorySpaceId\":\"x%2Fy\",\"dimension\":4,\"metric\":\"METRIC_NOPE\"}",
                "{\"memorySpaceId\":\"x\",\"dimension\":4,\"metric\":99}",
                "{\"embedding\":\"abc\"}",
                "{\"embedding\":[NaN,1,2,3]}",
                "{\"embedding\":[\"NaN\",\"Infinity\",1,2]}",
                "{\"embedding\":[1e999,1,2,3]}",
                "{\"embedding\":{\"a\":1}}",
                "{\"embedding\":[1,0,0,0],\"confidence\":-1}",
                "{\"embedding\":[1,0,0,0],\"confidence\":\"Infinity\"}",
                "{\"embedding\":[1,0,0,0],\"id\":\"a\\u0000b\"}",
                "{\"embedding\":[1,0,0,0],\"observedAt\":\"99999-01-01T00:00:00Z\"}",
                "{\"embedding\":[1,0,0,0],\"metadata\":{\"k\":1}}",
                "{\"episodes\":\"x\"}",
                "{\"episodes\":[{\"embedding\":[1,0,0]}]}",
                "{\"episodes\":[null]}",
                "{\"k\":-5,\"embedding\":[1,0,0,0]}",
                "{\"k\":1e20,\"embedding\":[1,0,0,0]}",
                "{\"k\":4294967296,\"embedding\":[1,0,0,0]}",
                "{\"minScore\":\"NaN\",\"embedding\":[1,0,0,0]}",
                "{\"mode\":\"RECALL_MODE_NOPE\",\"embedding\":[1,0,0,0]}",
                "{\"__proto__\":{\"x\":1}}",
                "{\"a\":1,\"a\":2}",
                "{\"embedding\":[1,0,0,0],\"content\":\"\\ud800\"}")
            .map(s -> s.getBytes(StandardCharsets.UTF_8)),
        Arbitraries.integers()
            .between(100, 20_000)
            .map(d -> ("[".repeat(d) + "]".repeat(d)).getBytes(StandardCharsets.UTF_8)),
        Arbitraries.integers()
            .between(100, 5_000)
            .map(
                d ->
                    ("{\"embedding\":" + "{\"a\":".repeat(d) + "1" + "}".repeat(d) + "}")
                        .getBytes(StandardCharsets.UTF_8)),
        Arbitraries.integers()
            .between(10_000, 3_000_000)
            .map(n -> ("{\"content\":\"" + "x".repeat(n) + "\"}").getBytes(StandardCharsets.UTF_8)),
        Arbitraries.of(
            new byte[] {'{', '"', 'i', 'd', '"', ':', '"', (byte) 0xC3, 0x28, '"', '}'},
            new byte[] {(byte) 0xFF, (byte) 0xFE, '{', '}'},
            new byte[] {'{', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', ':', '1', '}'}),
        Arbitraries.strings().all().ofMaxLength(60).map(s -> s.getBytes(StandardCharsets.UTF_8)));
  }

  // ---- hostile messages ----

  private static Message hostileRequest(
      String method, String text, long number, float value, Random random) {
    String space = random.nextBoolean() ? VICTIMS.get(random.nextInt(2)) : text;
    return switch (method) {
      case "CreateSpace" ->
          CreateSpaceRequest.newBuilder()
              .setMemorySpaceId(text)
              .setDimension((int) number)
              .setMetricValue(random.nextInt(6) - 1)
              .build();
      case "GetSpace" -> GetSpaceRequest.newBuilder().setMemorySpaceId(text).build();
      case "ListSpaces" -> ListSpacesRequest.getDefaultInstance();
      case "DeleteSpace" -> DeleteSpaceRequest.newBuilder().setMemorySpaceId(text).build();
      case "Remember" -> {
        RememberRequest.Builder b = RememberRequest.newBuilder().setMemorySpaceId(space);
        int n = 1 + random.nextInt(3);
        int bad = random.nextInt(n);
        for (int i = 0; i < n; i++) {
          b.addEpisodes(
              i == bad ? defective(text, number, value, random) : hostileButValid(text, random));
        }
        yield b.build();
      }
      case "Recall" -> hostileRecall(space, text, number, value, random);
      case "Forget" ->
          ForgetRequest.newBuilder()
              .setMemorySpaceId(space)
              .addIds(text)
              .addIds(text + "/..")
              .build();
      default -> throw new IllegalArgumentException(method);
    };
  }

  private static RecallRequest hostileRecall(
      String space, String text, long number, float value, Random random) {
    RecallRequest.Builder b =
        RecallRequest.newBuilder().setMemorySpaceId(space).setRequestId(text).setK((int) number);
    int dim = random.nextBoolean() ? DIM : random.nextInt(10);
    for (int i = 0; i < dim; i++) {
      b.addEmbedding(random.nextBoolean() ? value : random.nextFloat());
    }
    if (random.nextBoolean()) {
      b.setMinScore(value);
    }
    if (random.nextBoolean()) {
      b.setModeValue((int) (number % 7));
    }
    return b.setIncludeEmbeddings(random.nextBoolean()).build();
  }

  /** An episode for a victim space with at least one defect that makes it invalid. */
  private static dev.engram.proto.v1.Episode defective(
      String text, long number, float value, Random random) {
    dev.engram.proto.v1.Episode.Builder e = hostileButValid(text, random).toBuilder();
    switch (random.nextInt(7)) {
      case 0 -> e.setEmbedding(random.nextInt(DIM), Float.NaN);
      case 1 ->
          e.setEmbedding(
              random.nextInt(DIM),
              random.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY);
      case 2 ->
          e.clearEmbedding()
              .addAllEmbedding(
                  dimensions(
                      random.nextInt(3) == 0 ? 0 : DIM + 1 + (int) Math.floorMod(number, 50L),
                      value));
      case 3 ->
          e.setConfidence(
              random.nextBoolean() ? -Math.abs(value) - 1 : 1.5f + Math.abs(number % 1000));
      case 4 -> e.setId("bad\u0000" + text);
      case 5 ->
          e.setObservedAt(
              com.google.protobuf.Timestamp.newBuilder()
                  .setSeconds(Long.MAX_VALUE / (1 + Math.floorMod(number, 3L))));
      default ->
          e.clearEmbedding()
              .addAllEmbedding(List.of(0f, 0f, 0f, 0f))
              .setId("zero-" + random.nextInt()); // all zeros: invalid in the cosine space only
    }
    return e.build();
  }

  private static List<Float> dimensions(int n, float value) {
    List<Float> v = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      v.add(Float.isFinite(value) ? value : 0.5f);
    }
    return v;
  }

  /** Valid in itself: hostile text in the id, content and metadata. */
  private static dev.engram.proto.v1.Episode hostileButValid(String text, Random random) {
    return dev.engram.proto.v1.Episode.newBuilder()
        .setId(
            "h"
                + random.nextInt(1_000_000)
                + text.replaceAll("\\p{Cntrl}", "")
                    .substring(0, Math.min(10, text.replaceAll("\\p{Cntrl}", "").length())))
        .setContent(text)
        .putMetadata("k", text)
        .addAllEmbedding(List.of(0.5f, -0.5f, 0.25f, 1f))
        .build();
  }

  private static StreamRequest hostileStreamRequest(
      String text, long number, float value, Random random) {
    StreamRequest.Builder b = StreamRequest.newBuilder().setSequenceNumber(number);
    if (random.nextInt(4) == 0) {
      b.setMemorySpaceId(text);
    }
    if (random.nextInt(4) == 0) {
      b.setSessionId(text);
    }
    return switch (random.nextInt(7)) {
      case 0 -> b.setObservation(defective(text, number, value, random)).build();
      case 1 ->
          b.setObservations(
                  EpisodeBatch.newBuilder()
                      .addEpisodes(defective(text, number, value, random))
                      .addEpisodes(defective(text, number, value, random)))
              .build();
      case 2 -> b.setRecall(hostileRecall(VICTIMS.get(0), text, number, value, random)).build();
      case 3 -> b.setFlow(FlowControl.newBuilder().setActionValue((int) number)).build();
      case 4 ->
          b.setInit(
                  StreamInit.newBuilder()
                      .setClientBufferSize((int) number)
                      .setMaxBatchSize((int) (number >> 7)))
              .build();
      case 5 -> b.setClose(StreamClose.getDefaultInstance()).build();
      default -> b.build(); // no kind at all
    };
  }

  /** The canonical JSON of {@code request}, or for a time JSON cannot carry, that time as text. */
  private static String json(StreamRequest request) {
    try {
      return JsonFormat.printer().print(request);
    } catch (IllegalArgumentException | InvalidProtocolBufferException e) {
      return "{\"observation\":{\"embedding\":[1,0,0,0],\"observedAt\":\"%d\"}}"
          .formatted(request.getObservation().getObservedAt().getSeconds());
    }
  }

  private static StreamRequest initFrame(String space) {
    return StreamRequest.newBuilder()
        .setMemorySpaceId(space)
        .setInit(StreamInit.getDefaultInstance())
        .build();
  }

  private static StreamRequest probe() {
    return StreamRequest.newBuilder()
        .setRecall(
            RecallRequest.newBuilder()
                .setRequestId("probe")
                .setK(1)
                .addAllEmbedding(List.of(1f, 0f, 0f, 0f)))
        .build();
  }

  /** An id as a path segment: percent-encoded as a client library would, or raw. */
  private static String pathPart(String id, Random random) {
    if (random.nextInt(3) == 0) {
      return id;
    }
    return java.net.URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
  }

  // ---- transports ----

  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private static Status callRaw(String method, byte[] request) {
    MethodDescriptor<byte[], byte[]> md =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, method))
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();
    try {
      ClientCalls.blockingUnaryCall(
          channel,
          md,
          CallOptions.DEFAULT.withDeadlineAfter(BOUND.toMillis(), TimeUnit.MILLISECONDS),
          request);
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  record StreamOutcome(boolean finished, Status status, List<StreamResponse> responses) {}

  /** Sends raw frames on one stream; done when the probe is answered or the stream ends. */
  private static StreamOutcome stream(List<byte[]> frames) {
    MethodDescriptor<byte[], byte[]> md =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
            .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Stream"))
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();
    ClientCall<byte[], byte[]> call = channel.newCall(md, CallOptions.DEFAULT);
    List<StreamResponse> responses = java.util.Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Status> done = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(byte[] message) {
            try {
              StreamResponse r = StreamResponse.parseFrom(message);
              responses.add(r);
              if ((r.hasRecall() && r.getRecall().getRequestId().equals("probe"))
                  || (r.hasRejection() && r.getRejection().getRequestId().equals("probe"))) {
                done.complete(null);
              }
            } catch (InvalidProtocolBufferException e) {
              done.complete(Status.INTERNAL.withDescription("unparsable answer: " + e));
            }
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            done.complete(status);
          }
        },
        new Metadata());
    call.request(1);
    for (byte[] frame : frames) {
      call.sendMessage(frame);
    }
    try {
      Status status = done.get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
      return new StreamOutcome(true, status, List.copyOf(responses));
    } catch (java.util.concurrent.TimeoutException e) {
      return new StreamOutcome(false, null, List.copyOf(responses));
    } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e);
    } finally {
      call.cancel("campaign input done", null);
    }
  }

  record WsOutcome(boolean finished, int closeCode, List<String> texts) {}

  private static WsOutcome webSocket(URI uri, List<String> frames, boolean binary) {
    List<String> texts = java.util.Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Integer> done = new CompletableFuture<>();
    WebSocket ws;
    try {
      ws =
          http.newWebSocketBuilder()
              .connectTimeout(BOUND)
              .buildAsync(
                  uri,
                  new WebSocket.Listener() {
                    private final StringBuilder text = new StringBuilder();

                    @Override
                    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                      text.append(data);
                      if (last) {
                        String t = text.toString();
                        text.setLength(0);
                        texts.add(t);
                        if (t.contains("\"probe\"")) {
                          done.complete(0);
                        }
                      }
                      w.request(1);
                      return null;
                    }

                    @Override
                    public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
                      done.complete(code);
                      return null;
                    }

                    @Override
                    public void onError(WebSocket w, Throwable error) {
                      done.complete(-1);
                    }
                  })
              .get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      // refused at the upgrade (e.g. 400 for a bad query): an answer, not a hang
      return new WsOutcome(true, 0, List.of(String.valueOf(e.getCause())));
    } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
      return new WsOutcome(false, 0, List.of());
    }
    for (String frame : frames) {
      if (done.isDone()) {
        break;
      }
      try {
        ws.sendText(frame, true).get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        // the JDK client could not encode it (a lone surrogate): it never left; send the rest
      } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
        break; // the server stopped reading: the probe below must still be answered or closed
      }
    }
    if (binary && !done.isDone()) {
      ws.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true);
    }
    try {
      int code = done.get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
      return new WsOutcome(true, code, List.copyOf(texts));
    } catch (Exception e) {
      return new WsOutcome(false, 0, List.copyOf(texts));
    } finally {
      ws.abort();
    }
  }
}
