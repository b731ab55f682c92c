package dev.engram.server.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Space;
import dev.engram.server.ServerProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scale-out against a real KRaft broker started in this JVM, with Engram nodes as separate
 * processes ({@code serve --kafka-bootstrap ...}): nothing produced is lost or stored twice across
 * a SIGKILL, bad records go to the dead-letter topic, two nodes split the partitions and one takes
 * over from the other.
 */
class KafkaScaleOutTest {
  private static final int DIM = 8;
  private static KafkaClusterTestKit cluster;
  private static Admin admin;

  @TempDir Path dir;
  private final List<ServerProcess> nodes = new ArrayList<>();
  private final List<ServerProcess> stopped = new ArrayList<>(); // every node started, for logs
  private final List<ManagedChannel> channels = new ArrayList<>();

  // Held so the level sticks: the in-process broker logs every config at INFO.
  private static final java.util.logging.Logger KAFKA_LOGS =
      java.util.logging.Logger.getLogger("org.apache.kafka");
  private static final java.util.logging.Logger BROKER_LOGS =
      java.util.logging.Logger.getLogger("kafka");

  @BeforeAll
  static void startBroker() throws Exception {
    KAFKA_LOGS.setLevel(java.util.logging.Level.WARNING);
    BROKER_LOGS.setLevel(java.util.logging.Level.WARNING);
    cluster =
        new KafkaClusterTestKit.Builder(
                new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build())
            .setConfigProp("offsets.topic.replication.factor", "1")
            .setConfigProp("offsets.topic.num.partitions", "4")
            .setConfigProp("group.initial.rebalance.delay.ms", "0")
            .setConfigProp("group.min.session.timeout.ms", "1000")
            .build();
    cluster.format();
    cluster.startup();
    cluster.waitForReadyBrokers();
    admin = cluster.admin();
  }

  @AfterAll
  static void stopBroker() throws Exception {
    if (admin != null) {
      admin.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @AfterEach
  void stopNodes() throws InterruptedException, java.io.IOException {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (ServerProcess n : nodes) {
      n.kill();
    }
    // Keep the nodes' output for a failure's post-mortem (the temporary directory goes).
    Path logs = Path.of("target", "kafka-test-logs");
    try {
      java.nio.file.Files.createDirectories(logs);
      for (ServerProcess n : stopped) {
        java.nio.file.Files.writeString(
            logs.resolve(n.process().pid() + ".log"),
            n.stdout() + "\n---- stderr ----\n" + n.stderr());
      }
    } catch (java.io.IOException e) {
      System.err.println("cannot keep node logs: " + e);
    }
  }

  // ---- the tests ----

  @Test
  void hundredThousandEpisodes_nodeKilledMidway_nothingLostNothingTwice() throws Exception {
    String topic = "episodes-a";
    createTopic(topic, 8);
    Map<String, float[]> vectors = new HashMap<>(); // episode id -> vector
    Map<String, String> spaceOf = new HashMap<>();
    ServerProcess node = startNode("a1", topic, "group-a", "--kafka-auto-create", DIM + ":cosine");
    Thread producing =
        Thread.ofPlatform().start(() -> produce(topic, 100_000, 20, vectors, spaceOf));
    awaitCommitted("group-a", topic, 20_000, Duration.ofSeconds(120));
    node.kill(); // SIGKILL mid-way: no flush, no commit, no leave
    Map<Integer, Long> committedAtKill = committed("group-a", topic);
    nodes.remove(node);
    producing.join();

    ServerProcess again = startNode("a1", topic, "group-a", "--kafka-auto-create", DIM + ":cosine");
    long restarted = System.nanoTime();
    Map<Integer, Long> resumedAt = assignedFrom(again);
    for (Map.Entry<Integer, Long> e : committedAtKill.entrySet()) {
      // resumes from what its store holds: at or after the last commit, never from the start
      assertThat(resumedAt.get(e.getKey()))
          .as("partition %d", e.getKey())
          .isGreaterThanOrEqualTo(e.getValue());
    }
    awaitCommitted("group-a", topic, 100_000, Duration.ofSeconds(300));
    long replayed = 100_000 - resumedAt.values().stream().mapToLong(o -> Math.max(o, 0)).sum();
    double seconds = (System.nanoTime() - restarted) / 1e9;
    System.out.printf(
        "one node consumed and stored %d records in %.1f s after its restart (%.0f records/s,"
            + " JVM start included)%n",
        replayed, seconds, replayed / seconds);
    assertThat(sum(committed("group-a", topic))).isEqualTo(sum(endOffsets(topic)));

    MemoryServiceGrpc.MemoryServiceBlockingStub stub = stub(again);
    long stored = 0;
    for (Space s : stub.listSpaces(ListSpacesRequest.getDefaultInstance()).getSpacesList()) {
      stored += s.getEpisodeCount();
    }
    assertThat(stored).as("stored once each").isEqualTo(100_000);
    assertAllRecallable(again, vectors, spaceOf);
  }

  @Test
  void malformedRecordsAndUnknownSpaces_goToTheDeadLetterTopic_andConsumingGoesOn()
      throws Exception {
    String topic = "episodes-dlq";
    createTopic(topic, 1);
    createTopic(topic + ".dlq", 1);
    ServerProcess node = startNode("d1", topic, "group-d");
    try (KafkaProducer<String, byte[]> producer = producer()) {
      ProducerRecord<String, byte[]> define = new ProducerRecord<>(topic, "known", new byte[0]);
      define.headers().add("engram-op", utf8("create-space"));
      define.headers().add("dimension", utf8("4"));
      producer.send(define);
      producer.send(new ProducerRecord<>(topic, "known", utf8("not protobuf \u0000\u00ff")));
      producer.send(
          new ProducerRecord<>(topic, "nowhere", episode("x1", new float[4]).toByteArray()));
      producer.send(
          new ProducerRecord<>(topic, "known", episode("x2", new float[7]).toByteArray()));
      producer.send(new ProducerRecord<>(topic, null, episode("x3", new float[4]).toByteArray()));
      producer.send(new ProducerRecord<>(topic, "known", episode("ok1", vec(4, 1)).toByteArray()));
      ProducerRecord<String, byte[]> json =
          new ProducerRecord<>(
              topic,
              "known",
              utf8("{\"id\":\"ok2\",\"embedding\":[1,0,0,0],\"content\":\"json\"}"));
      json.headers().add("content-type", utf8("application/json"));
      producer.send(json);
      producer.flush();
    }
    List<ConsumerRecord<String, byte[]>> dead = consume(topic + ".dlq", 4, Duration.ofSeconds(30));
    Map<String, String> reasonAt = new HashMap<>(); // original offset -> reason
    for (ConsumerRecord<String, byte[]> r : dead) {
      reasonAt.put(header(r, "engram-dlq-offset"), header(r, "engram-dlq-reason"));
      assertThat(header(r, "engram-dlq-topic")).isEqualTo(topic);
      assertThat(header(r, "engram-dlq-partition")).isEqualTo("0");
    }
    assertThat(reasonAt.keySet()).containsExactlyInAnyOrder("1", "2", "3", "4");
    assertThat(reasonAt.get("1")).contains("not an engram.v1.Episode");
    assertThat(reasonAt.get("2")).contains("unknown space 'nowhere'");
    assertThat(reasonAt.get("3")).contains("dimension");
    assertThat(reasonAt.get("4")).contains("no key");
    awaitCommitted("group-d", topic, 7, Duration.ofSeconds(30));
    Space known =
        stub(node).getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId("known").build());
    assertThat(known.getEpisodeCount()).isEqualTo(2); // consuming went on after each bad record
    String metrics =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + node.httpPort() + "/metrics"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(metrics)
        .contains("engram_kafka_records_total{outcome=\"dead_lettered\"} 4.0")
        .contains("engram_kafka_records_total{outcome=\"stored\"} 2.0")
        .contains("engram_kafka_consumer_lag{partition=\"0\"}")
        .contains("engram_kafka_owned_partitions 1.0");
  }

  @Test
  void twoNodes_splitPartitions_oneStops_theOtherTakesOver() throws Exception {
    takeover("episodes-t", "group-t", false);
  }

  @Test
  void twoNodes_withStandby_takeOverWithoutReplay() throws Exception {
    takeover("episodes-s", "group-s", true);
  }

  private void takeover(String topic, String group, boolean standby) throws Exception {
    createTopic(topic, 8);
    Map<String, float[]> vectors = new HashMap<>();
    Map<String, String> spaceOf = new HashMap<>();
    List<String> extra = new ArrayList<>(List.of("--kafka-auto-create", DIM + ""));
    if (standby) {
      extra.add("--kafka-standby");
    }
    ServerProcess a = startNode(group + "-a", topic, group, extra.toArray(String[]::new));
    ServerProcess b = startNode(group + "-b", topic, group, extra.toArray(String[]::new));
    awaitEachOwnsPartitions(a, b); // else the first to join could consume everything alone
    produce(topic, 8_000, 10, vectors, spaceOf);
    awaitCommitted(group, topic, 8_000, Duration.ofSeconds(120));
    // both own some partitions
    assertThat(a.stdout()).contains("Kafka partitions assigned");
    assertThat(b.stdout()).contains("Kafka partitions assigned");
    long stopped = System.nanoTime();
    a.stop();
    long exited = System.nanoTime();
    nodes.remove(a);
    // b is assigned all 8 and each is ready
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    awaitAllReady(b, deadline);
    long now = System.nanoTime();
    System.out.printf(
        "takeover (%s): %d ms from SIGTERM, %d ms after the old owner exited%n",
        standby ? "standby" : "replay",
        TimeUnit.NANOSECONDS.toMillis(now - stopped),
        TimeUnit.NANOSECONDS.toMillis(now - exited));
    assertAllRecallable(b, vectors, spaceOf);
    // the members table: b owns everything, a has left (tombstone)
    Map<String, String> latest = new HashMap<>();
    for (ConsumerRecord<String, byte[]> r : consumeAll(topic + ".members", Duration.ofSeconds(3))) {
      latest.put(r.key(), r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
    }
    assertThat(latest.get(group + "-b"))
        .contains("\"node\":\"" + group + "-b\"")
        .contains("\"address\":\"localhost:" + b.grpcPort() + "\"")
        .contains("\"partitions\":[0,1,2,3,4,5,6,7]");
    assertThat(latest).containsEntry(group + "-a", null);
  }

  @Test
  void twoNodes_anyNodeAnswers_recallAndGetSpaceAreForwardedToTheOwner() throws Exception {
    String topic = "episodes-f";
    String group = "group-f";
    createTopic(topic, 8);
    Path tokenFile = dir.resolve("admin-token");
    String token = "forwarding-test-admin-token-0123456789";
    java.nio.file.Files.writeString(tokenFile, token);
    String[] extra = {
      "--auth", "on", "--admin-token-file", tokenFile.toString(), "--kafka-auto-create", DIM + ""
    };
    ServerProcess a = startNode(group + "-a", topic, group, extra);
    ServerProcess b = startNode(group + "-b", topic, group, extra);
    Map<String, float[]> vectors = new HashMap<>();
    Map<String, String> spaceOf = new HashMap<>();
    produce(topic, 2_000, 10, vectors, spaceOf);
    awaitCommitted(group, topic, 2_000, Duration.ofSeconds(60));
    // the owners as the members table says, once both nodes own some partitions
    Map<String, String> ownerOf = new HashMap<>(); // space -> node id
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      Map<String, String> latest = new HashMap<>();
      for (ConsumerRecord<String, byte[]> r :
          consumeAll(topic + ".members", Duration.ofMillis(500))) {
        latest.put(r.key(), r.value() == null ? "" : new String(r.value(), StandardCharsets.UTF_8));
      }
      ownerOf.clear();
      for (String space : new java.util.TreeSet<>(spaceOf.values())) {
        String partition = Integer.toString(MemberTable.partitionOf(space, 8));
        for (Map.Entry<String, String> e : latest.entrySet()) {
          Matcher m = Pattern.compile("\\[([0-9,]*)\\]").matcher(e.getValue());
          if (m.find() && List.of(m.group(1).split(",")).contains(partition)) {
            ownerOf.put(space, e.getKey());
          }
        }
      }
      if (ownerOf.size() == 10 && new java.util.HashSet<>(ownerOf.values()).size() == 2) {
        break;
      }
      assertThat(System.nanoTime()).as("members table: %s", latest).isLessThan(deadline);
      Thread.sleep(200);
    }
    Map<String, ServerProcess> byId = Map.of(group + "-a", a, group + "-b", b);
    MemoryServiceGrpc.MemoryServiceBlockingStub withToken;
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(ownerOf).entrySet()) {
      String space = e.getKey();
      ServerProcess owner = byId.get(e.getValue());
      ServerProcess other = owner == a ? b : a;
      withToken = stub(other, token);
      // the non-owner's table may lag the topic a moment
      Space seen = null;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (System.nanoTime() < until) {
        try {
          seen = withToken.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(space).build());
          if (seen.getOwnerNode().equals(e.getValue())) {
            break;
          }
        } catch (io.grpc.StatusRuntimeException ex) {
          seen = null;
        }
        Thread.sleep(100);
      }
      long stored = spaceOf.values().stream().filter(space::equals).count();
      assertThat(seen).as("GetSpace %s through the non-owner", space).isNotNull();
      assertThat(seen.getOwnerNode()).isEqualTo(e.getValue());
      assertThat(seen.getEpisodeCount()).isEqualTo(stored);
      // the owner reports itself too
      assertThat(
              stub(owner, token)
                  .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(space).build())
                  .getOwnerNode())
          .isEqualTo(e.getValue());
    }
    // the REST door forwards too: GET /v1/spaces/{id} and a recall through the non-owner
    var http = java.net.http.HttpClient.newHttpClient();
    for (Map.Entry<String, String> e : ownerOf.entrySet()) {
      ServerProcess other = byId.get(e.getValue()) == a ? b : a;
      var view =
          http.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create(
                          "http://127.0.0.1:%d/v1/spaces/%s"
                              .formatted(other.httpPort(), e.getKey())))
                  .header("Authorization", "Bearer " + token)
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(view.statusCode()).as(view.body()).isEqualTo(200);
      assertThat(view.body()).contains("\"ownerNode\":\"" + e.getValue() + "\"");
    }
    Map.Entry<String, float[]> one = vectors.entrySet().iterator().next();
    String oneSpace = spaceOf.get(one.getKey());
    ServerProcess oneOther = byId.get(ownerOf.get(oneSpace)) == a ? b : a;
    StringBuilder cue = new StringBuilder("{\"k\":1,\"embedding\":[");
    for (int i = 0; i < one.getValue().length; i++) {
      cue.append(i == 0 ? "" : ",").append(one.getValue()[i]);
    }
    cue.append("]}");
    var recalled =
        http.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(
                        "http://127.0.0.1:%d/v1/spaces/%s/recall"
                            .formatted(oneOther.httpPort(), oneSpace)))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(cue.toString()))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(recalled.statusCode()).as(recalled.body()).isEqualTo(200);
    assertThat(recalled.body()).contains("\"id\":\"" + one.getKey() + "\"");
    // every episode recalls itself as top-1 through the node that does NOT own its space
    List<Long> forwarded = new ArrayList<>();
    List<Long> local = new ArrayList<>();
    Map<ServerProcess, MemoryServiceGrpc.MemoryServiceBlockingStub> stubs =
        Map.of(a, stub(a, token), b, stub(b, token));
    int wrong = 0;
    for (Map.Entry<String, float[]> e : vectors.entrySet()) {
      String space = spaceOf.get(e.getKey());
      ServerProcess owner = byId.get(ownerOf.get(space));
      ServerProcess other = owner == a ? b : a;
      RecallRequest.Builder r = RecallRequest.newBuilder().setMemorySpaceId(space).setK(1);
      for (float f : e.getValue()) {
        r.addEmbedding(f);
      }
      long t0 = System.nanoTime();
      RecallResponse through = stubs.get(other).recall(r.build());
      long t1 = System.nanoTime();
      stubs.get(owner).recall(r.build());
      long t2 = System.nanoTime();
      forwarded.add(t1 - t0);
      local.add(t2 - t1);
      if (through.getMemoriesCount() == 0
          || !through.getMemories(0).getEpisode().getId().equals(e.getKey())) {
        wrong++;
      }
    }
    assertThat(wrong).as("episodes not their own top-1 through the non-owner").isZero();
    System.out.printf(
        "recall over %d episodes: forwarded p50 %.2f ms p99 %.2f ms; local p50 %.2f ms p99 %.2f"
            + " ms%n",
        vectors.size(),
        percentile(forwarded, 50),
        percentile(forwarded, 99),
        percentile(local, 50),
        percentile(local, 99));
    // the owner authorises a forwarded call exactly as a direct one: no token, no answer
    String someSpace = ownerOf.keySet().iterator().next();
    ServerProcess notOwner = byId.get(ownerOf.get(someSpace)) == a ? b : a;
    try {
      stub(notOwner).recall(RecallRequest.newBuilder().setMemorySpaceId(someSpace).setK(1).build());
      throw new AssertionError("a recall without a token was answered");
    } catch (io.grpc.StatusRuntimeException ex) {
      assertThat(ex.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);
    }
    String metrics =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + a.httpPort() + "/metrics"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(metrics)
        .contains("engram_kafka_forwarded_total{call=\"recall\",outcome=\"ok\"}")
        .contains("engram_kafka_forwarded_total{call=\"get_space\",outcome=\"ok\"}");
  }

  private static double percentile(List<Long> nanos, int p) {
    List<Long> sorted = new ArrayList<>(nanos);
    java.util.Collections.sort(sorted);
    return sorted.get(Math.min(sorted.size() - 1, sorted.size() * p / 100)) / 1e6;
  }

  // ---- helpers ----

  private void awaitAllReady(ServerProcess b, long deadline) throws InterruptedException {
    Pattern assigned = Pattern.compile("Kafka partitions assigned: (.*)");
    while (System.nanoTime() < deadline) {
      Matcher m = assigned.matcher(b.stdout());
      String last = null;
      int lastEnd = 0;
      while (m.find()) {
        last = m.group(1);
        lastEnd = m.end();
      }
      if (last != null && last.split(", ").length == 8) {
        String after = b.stdout().substring(lastEnd);
        if (count(after, "ready at offset") >= 8) {
          return;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("b did not take over all partitions:\n" + b.stdout());
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /** Waits until each node's latest assignment names at least one partition. */
  private static void awaitEachOwnsPartitions(ServerProcess... nodes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (ServerProcess node : nodes) {
      while (!ownsPartitions(node.stdout())) {
        assertThat(System.nanoTime())
            .as("a node's partition assignment; its output: %s", node.stdout())
            .isLessThan(deadline);
        Thread.sleep(50);
      }
    }
  }

  private static boolean ownsPartitions(String stdout) {
    String marker = "Kafka partitions assigned: ";
    int at = stdout.lastIndexOf(marker);
    return at >= 0
        && at + marker.length() < stdout.length()
        && Character.isDigit(stdout.charAt(at + marker.length()));
  }

  private ServerProcess startNode(String id, String topic, String group, String... extra)
      throws Exception {
    List<String> options =
        new ArrayList<>(
            List.of(
                "--consolidation",
                "off",
                "--kafka-bootstrap",
                cluster.bootstrapServers(),
                "--kafka-topic",
                topic,
                "--kafka-group",
                group,
                "--node-id",
                id,
                "--kafka-session-timeout-ms",
                "6000",
                "--warmup",
                "0"));
    options.addAll(List.of(extra));
    if (!options.contains("--auth")) {
      options.addAll(List.of("--auth", "off"));
    }
    Path data = dir.resolve("data-" + id);
    ServerProcess p =
        ServerProcess.start(
            data,
            dir.resolve("stderr-" + id + "-" + nodes.size()),
            "384m",
            options.toArray(String[]::new));
    nodes.add(p);
    stopped.add(p);
    return p;
  }

  /** The offsets the node's latest assignment starts from, by partition (-1: earliest). */
  private static Map<Integer, Long> assignedFrom(ServerProcess node) throws InterruptedException {
    String line =
        node.awaitLine(Pattern.compile("Kafka partitions assigned: (.*)"), Duration.ofSeconds(60));
    Map<Integer, Long> from = new HashMap<>();
    for (String part : line.split(", ")) {
      String[] w = part.split(" ");
      from.put(Integer.parseInt(w[0]), w[2].equals("earliest") ? -1L : Long.parseLong(w[2]));
    }
    return from;
  }

  private MemoryServiceGrpc.MemoryServiceBlockingStub stub(ServerProcess node) {
    ManagedChannel c =
        ManagedChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
    channels.add(c);
    return MemoryServiceGrpc.newBlockingStub(c);
  }

  private MemoryServiceGrpc.MemoryServiceBlockingStub stub(ServerProcess node, String token) {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(
        io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + token);
    return stub(node)
        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** Every episode's own vector recalls it first, through {@code node}. */
  private void assertAllRecallable(
      ServerProcess node, Map<String, float[]> vectors, Map<String, String> spaceOf)
      throws Exception {
    ManagedChannel c =
        ManagedChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
    channels.add(c);
    MemoryServiceGrpc.MemoryServiceFutureStub stub = MemoryServiceGrpc.newFutureStub(c);
    Semaphore inFlight = new Semaphore(64);
    AtomicInteger wrong = new AtomicInteger();
    AtomicReference<String> example = new AtomicReference<>();
    List<Future<RecallResponse>> all = new ArrayList<>();
    for (Map.Entry<String, float[]> e : vectors.entrySet()) {
      inFlight.acquire();
      RecallRequest.Builder r =
          RecallRequest.newBuilder().setMemorySpaceId(spaceOf.get(e.getKey())).setK(1);
      for (float f : e.getValue()) {
        r.addEmbedding(f);
      }
      var f = stub.recall(r.build());
      String id = e.getKey();
      f.addListener(
          () -> {
            try {
              RecallResponse resp = f.get();
              if (resp.getMemoriesCount() == 0
                  || !resp.getMemories(0).getEpisode().getId().equals(id)) {
                wrong.incrementAndGet();
                example.compareAndSet(null, id + " -> " + resp);
              }
            } catch (Exception ex) {
              wrong.incrementAndGet();
              example.compareAndSet(null, id + " -> " + ex);
            } finally {
              inFlight.release();
            }
          },
          Runnable::run);
      all.add(f);
    }
    inFlight.acquire(64);
    assertThat(wrong.get()).as("episodes not their own top-1, e.g. %s", example.get()).isZero();
  }

  private static void createTopic(String topic, int partitions) throws Exception {
    admin
        .createTopics(List.of(new NewTopic(topic, partitions, (short) 1)))
        .all()
        .get(30, TimeUnit.SECONDS);
  }

  private static KafkaProducer<String, byte[]> producer() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return new KafkaProducer<>(p);
  }

  /**
   * Produces {@code n} episodes over {@code spaces} spaces (keyed by space), every tenth without an
   * id (it gets kafka/topic/partition/offset); records each id's vector and space.
   */
  private static void produce(
      String topic, int n, int spaces, Map<String, float[]> vectors, Map<String, String> spaceOf) {
    Random random = new Random(42);
    Map<String, float[]> v = new HashMap<>();
    Map<String, String> s = new HashMap<>();
    List<Future<org.apache.kafka.clients.producer.RecordMetadata>> unnamed = new ArrayList<>();
    List<float[]> unnamedVectors = new ArrayList<>();
    List<String> unnamedSpaces = new ArrayList<>();
    try (KafkaProducer<String, byte[]> producer = producer()) {
      for (int i = 0; i < n; i++) {
        String space = "space-" + (i % spaces);
        float[] vector = new float[DIM];
        for (int d = 0; d < DIM; d++) {
          vector[d] = (float) random.nextGaussian();
        }
        String id = i % 10 == 9 ? "" : "e-" + i;
        var sent =
            producer.send(new ProducerRecord<>(topic, space, episode(id, vector).toByteArray()));
        if (id.isEmpty()) {
          unnamed.add(sent);
          unnamedVectors.add(vector);
          unnamedSpaces.add(space);
        } else {
          v.put(id, vector);
          s.put(id, space);
        }
      }
      producer.flush();
      for (int i = 0; i < unnamed.size(); i++) {
        var md = unnamed.get(i).get();
        String id = "kafka/%s/%d/%d".formatted(topic, md.partition(), md.offset());
        v.put(id, unnamedVectors.get(i));
        s.put(id, unnamedSpaces.get(i));
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    synchronized (vectors) {
      vectors.putAll(v);
      spaceOf.putAll(s);
    }
  }

  private static Episode episode(String id, float[] vector) {
    Episode.Builder b = Episode.newBuilder().setId(id).setContent("c " + id);
    for (float f : vector) {
      b.addEmbedding(f);
    }
    return b.build();
  }

  private static float[] vec(int dim, int hot) {
    float[] v = new float[dim];
    v[hot % dim] = 1;
    return v;
  }

  private static Map<Integer, Long> committed(String group, String topic) throws Exception {
    Map<Integer, Long> out = new HashMap<>();
    Map<TopicPartition, OffsetAndMetadata> offsets =
        admin
            .listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata()
            .get(10, TimeUnit.SECONDS);
    offsets.forEach(
        (tp, om) -> {
          if (tp.topic().equals(topic) && om != null) {
            out.put(tp.partition(), om.offset());
          }
        });
    return out;
  }

  private static Map<Integer, Long> endOffsets(String topic) throws Exception {
    int partitions =
        admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
    for (int p = 0; p < partitions; p++) {
      ask.put(new TopicPartition(topic, p), OffsetSpec.latest());
    }
    Map<Integer, Long> out = new HashMap<>();
    admin
        .listOffsets(ask)
        .all()
        .get()
        .forEach((tp, info) -> out.put(tp.partition(), info.offset()));
    return out;
  }

  private static long sum(Map<Integer, Long> m) {
    return m.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Waits until the group has committed at least {@code atLeast} records of {@code topic}. */
  private static void awaitCommitted(String group, String topic, long atLeast, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long seen = 0;
    while (System.nanoTime() < deadline) {
      seen = sum(committed(group, topic));
      if (seen >= atLeast) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("group %s committed %d of %d".formatted(group, seen, atLeast));
  }

  private static List<ConsumerRecord<String, byte[]>> consume(
      String topic, int n, Duration timeout) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (out.size() < n && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(100)).forEach(out::add);
      }
    }
    assertThat(out).as("records in %s", topic).hasSize(n);
    return out;
  }

  /** Every record of {@code topic} from the start that arrives within {@code quiet}. */
  private static List<ConsumerRecord<String, byte[]>> consumeAll(String topic, Duration quiet) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
      TopicPartition tp = new TopicPartition(topic, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      long deadline = System.nanoTime() + quiet.toNanos();
      while (c.position(tp) < end && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(100)).forEach(out::add);
      }
    }
    return out;
  }

  private static String header(ConsumerRecord<String, byte[]> r, String name) {
    var h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
