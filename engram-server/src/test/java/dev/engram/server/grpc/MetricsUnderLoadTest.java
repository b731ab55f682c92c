package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.embedding;
import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.StreamState;
import dev.engram.server.metrics.Promtool;
import dev.engram.server.metrics.Scrape;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scrapes a real server's metrics before and after a load that produces every outcome a known
 * number of times (accepted, duplicate by sequence and by id, rejected, refused for overload,
 * quarantined after a worker crash, unary calls and recalls), and checks that each counter moved by
 * exactly that much. The same scrape is linted by {@code promtool check metrics}, and every metric
 * the Grafana dashboard and the alert rules use must be in it.
 *
 * <p>Determinism: one index worker, held at a latch while the stream fills the queue, so the depth
 * at the overload message is exactly what the test accepted before it (nothing drains meanwhile).
 */
class MetricsUnderLoadTest {
  private static final int DIM = 8;
  private static final int CAPACITY = 100; // hard limit: depth 90

  @TempDir Path dir;

  private final CountDownLatch gate = new CountDownLatch(1);
  private final SplittableRandom random = new SplittableRandom(9);

  private EngramConfig config() {
    return EngramConfig.builder()
        .workers(1)
        .queueCapacity(CAPACITY)
        .faults(
            (space, id) -> {
              if (id.equals("poison")) {
                throw new IllegalStateException("injected fault: poison episode");
              }
              try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                  throw new IllegalStateException("the test never opened the gate");
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            })
        .build();
  }

  private List<Episode> episodes(String prefix, int n) {
    List<Episode> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(episode(prefix + i, vector(random, DIM)));
    }
    return out;
  }

  @Test
  void scrape_underLoadWithEveryOutcome_countersMoveByExactlyWhatTheTestCaused() throws Exception {
    try (LoopbackServer server = new LoopbackServer(dir, config())) {
      server.createSpace("s", DIM, Metric.METRIC_L2);
      Scrape before = new Scrape(server.server.metrics().scrape());

      List<Episode> first = episodes("a", 10);
      Episode wrongDimension = episode("bad", new float[DIM + 1]);
      try (TestStream stream = server.stream("s")) {
        stream.init();
        stream.observeBatch(1, first); // 1-10: 10 accepted (the worker holds at the gate)
        stream.observeBatch(11, List.of(episode("b", vector(random, DIM)), wrongDimension));
        stream.observeBatch(1, first.subList(0, 5)); // 1-5 again: 5 duplicates by sequence
        stream.observe(13, episode("a0", vector(random, DIM))); // 1 duplicate by id
        // Depth is 11 (10 + 1): room for 79 below the hard limit of 90, so 21 are refused.
        stream.observeBatch(14, episodes("c", 100));
        stream.await(
            r ->
                r.hasResend()
                    && r.getResend().getReason() == ResendReason.RESEND_REASON_OVERLOADED);
        assertThat(stream.matching(StreamResponse::hasResend)).hasSize(1);

        gate.countDown();
        stream.await(
            r -> r.hasStatus() && r.getStatus().getState() == StreamState.STREAM_STATE_ACTIVE);
        stream.observe(93, episode("poison", vector(random, DIM))); // accepted, then quarantined
        stream.await(r -> r.hasRejection() && r.getRejection().getSequenceNumber() == 93);
        stream.recall("r1", vector(random, DIM), 3);
        stream.await(StreamResponse::hasRecall);
        stream.closeStream(false);
        stream.awaitEnd();
      }
      List<Episode> unary = episodes("u", 2);
      server.blocking.remember(
          RememberRequest.newBuilder().setMemorySpaceId("s").addAllEpisodes(unary).build());
      server.blocking.remember(
          RememberRequest.newBuilder().setMemorySpaceId("s").addAllEpisodes(unary).build());
      assertThatThrownBy(
              () ->
                  server.blocking.remember(
                      RememberRequest.newBuilder()
                          .setMemorySpaceId("s")
                          .addEpisodes(wrongDimension)
                          .build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
      RecallRequest.Builder recall = RecallRequest.newBuilder().setMemorySpaceId("s").setK(2);
      for (float x : embedding(unary.getFirst())) {
        recall.addEmbedding(x);
      }
      server.blocking.recall(recall.build());

      Engram engine = server.server.engine();
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                assertThat(engine.ingestStats().depth()).as("queue depth").isZero();
                assertThat(engine.ingestStats().quarantined()).as("quarantined").isEqualTo(1);
                assertThat(engine.getSpace(engram("s")).indexedCount())
                    .as("indexed")
                    .isEqualTo(10 + 1 + 79 + 2);
              });
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  new Scrape(server.server.metrics().scrape())
                          .value("engram_streams_active", "door", "grpc")
                      == 0);
      String text = server.server.metrics().scrape();
      Scrape after = new Scrape(text);
      Files.writeString(Path.of("target", "metrics-scrape.txt"), text); // for a person to read

      // Observations by outcome: stream 10 + 1 + 79 + poison, unary 2.
      assertMoved(
          before, after, 93, "engram_observations_total", "door", "grpc", "outcome", "accepted");
      assertMoved(
          before,
          after,
          5 + 1 + 2,
          "engram_observations_total",
          "door",
          "grpc",
          "outcome",
          "duplicate");
      assertMoved(
          before, after, 1 + 1, "engram_observations_total", "door", "grpc", "outcome", "rejected");
      assertMoved(
          before,
          after,
          21,
          "engram_observations_total",
          "door",
          "grpc",
          "outcome",
          "refused_overloaded");
      assertMoved(
          before, after, 1, "engram_observations_total", "door", "grpc", "outcome", "quarantined");
      assertMoved(before, after, 2, "engram_worker_restarts_total");
      assertMoved(before, after, 1, "engram_quarantined_total");
      assertMoved(before, after, 1, "engram_resends_total", "reason", "overloaded");
      assertMoved(before, after, 0, "engram_resends_total", "reason", "gap");
      assertMoved(before, after, 1, "engram_backpressure_transitions_total", "state", "overloaded");
      assertMoved(before, after, 1, "engram_backpressure_transitions_total", "state", "active");
      // Errors: the wrong dimension on the stream and in Remember; the quarantine's INTERNAL.
      assertMoved(
          before, after, 2, "engram_errors_total", "door", "grpc", "code", "INVALID_ARGUMENT");
      assertMoved(before, after, 1, "engram_errors_total", "door", "grpc", "code", "INTERNAL");
      assertMoved(before, after, 2, "engram_recalls_total", "door", "grpc", "mode", "similarity");
      assertMoved(before, after, 2, "engram_recall_latency_seconds_count", "door", "grpc");
      // Six stream messages were processed (the refused part of one is in the same ack).
      assertMoved(before, after, 6, "engram_ack_latency_seconds_count", "door", "grpc");
      assertMoved(before, after, 93, "engram_visibility_lag_seconds_count");
      assertMoved(before, after, 92, "engram_index_lag_seconds_count"); // not the poison
      assertMoved(before, after, 92, "engram_indexed_total");
      assertThat(after.value("engram_storage_commit_seconds_count")).isPositive();
      assertThat(after.value("engram_queue_depth")).isZero();
      assertThat(after.value("engram_queue_capacity")).isEqualTo(CAPACITY);
      assertThat(after.value("engram_space_episodes", "space", "s")).isEqualTo(93);
      assertThat(after.value("engram_space_indexed", "space", "s")).isEqualTo(92);
      assertThat(after.value("engram_build_info")).isEqualTo(1);
      assertThat(after.value("engram_ready")).isEqualTo(1);

      assertPromtoolAcceptsTheNames(text);
      assertDashboardAndRulesUseOnlyExportedMetrics(after);
    }
  }

  private static dev.engram.core.model.SpaceId engram(String id) {
    return dev.engram.core.model.SpaceId.of(id);
  }

  private static void assertMoved(
      Scrape before, Scrape after, double by, String name, String... labels) {
    assertThat(after.value(name, labels) - before.value(name, labels))
        .as("%s%s moved by", name, List.of(labels))
        .isEqualTo(by);
  }

  /** {@code promtool check metrics}: Prometheus's own naming lint, on a real scrape. */
  private static void assertPromtoolAcceptsTheNames(String scrape) throws Exception {
    Promtool.Result result = Promtool.run(scrape, "check", "metrics");
    assertThat(result.output()).as("promtool check metrics").isBlank();
    assertThat(result.exitCode()).isZero();
  }

  private static final Pattern METRIC = Pattern.compile("\\b((?:engram|jvm|process)_[a-z0-9_]+)");

  /** Every metric name in the dashboard's and the rules' expressions is in the scrape. */
  private static void assertDashboardAndRulesUseOnlyExportedMetrics(Scrape scrape)
      throws Exception {
    Path root = Promtool.repoRoot();
    Set<String> used = new TreeSet<>();
    JsonElement dashboard =
        JsonParser.parseString(Files.readString(root.resolve("deploy/grafana/engram.json")));
    collectExpressions(dashboard, used);
    assertThat(used).as("dashboard expressions").isNotEmpty();
    for (String rules :
        List.of("deploy/prometheus/engram-alerts.yml", "deploy/prometheus/engram-recording.yml")) {
      Matcher m = METRIC.matcher(Files.readString(root.resolve(rules)));
      while (m.find()) {
        used.add(m.group(1));
      }
    }
    String recording = Files.readString(root.resolve("deploy/prometheus/engram-recording.yml"));
    Matcher rule =
        Pattern.compile("engram:[a-z0-9_:]+")
            .matcher(
                Files.readString(root.resolve("deploy/grafana/engram.json"))
                    + Files.readString(root.resolve("deploy/prometheus/engram-alerts.yml")));
    while (rule.find()) {
      assertThat(recording)
          .as("recording rule " + rule.group())
          .contains("record: " + rule.group() + "\n");
    }
    Set<String> missing = new TreeSet<>(used);
    missing.removeAll(scrape.names());
    assertThat(missing).as("metrics used by the dashboard or rules but not exported").isEmpty();
  }

  private static void collectExpressions(JsonElement e, Set<String> into) {
    if (e.isJsonObject()) {
      for (var entry : e.getAsJsonObject().entrySet()) {
        if (entry.getKey().equals("expr") && entry.getValue().isJsonPrimitive()) {
          Matcher m = METRIC.matcher(entry.getValue().getAsString());
          while (m.find()) {
            into.add(m.group(1));
          }
        } else {
          collectExpressions(entry.getValue(), into);
        }
      }
    } else if (e.isJsonArray()) {
      e.getAsJsonArray().forEach(x -> collectExpressions(x, into));
    }
  }
}
