package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallFilter;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.server.EngramServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Half-life, recall modes with filters, and the consolidation watermark, against a real server. */
class EngramClientRecallModesTest {
  private static final int DIM = 8;

  @TempDir Path dataDir;

  private EngramServer server;
  private EngramClient client;

  @BeforeEach
  void start() throws Exception {
    server = EngramServer.start(0, dataDir, EngramConfig.builder().workers(1).build());
    client = EngramClient.builder().target("127.0.0.1:" + server.grpcPort()).build();
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    server.close();
  }

  @Test
  void createSpace_withHalfLife_isKeptOnTheSpace() {
    client.createSpace("decaying", DIM, Metric.METRIC_COSINE, Duration.ofHours(2));
    assertThat(client.getSpace("decaying").getHalfLifeSeconds()).isEqualTo(7200);
  }

  @Test
  void recall_hybridWithFilter_returnsKHitsThatMatch() {
    client.createSpace("talk", DIM, Metric.METRIC_COSINE);
    Random random = new Random(7);
    List<Episode> episodes = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String speaker = i % 3 == 0 ? "ana" : "ben";
      episodes.add(
          TestData.episode("e" + i, TestData.unitVector(random, DIM), "the garden party " + i)
              .toBuilder()
              .putMetadata("speaker", speaker)
              .build());
    }
    client.remember("talk", episodes);
    RecallResponse hits =
        client.recall(
            RecallRequest.newBuilder()
                .setMemorySpaceId("talk")
                .setText("garden party")
                .setMode(RecallMode.RECALL_MODE_HYBRID)
                .setFilter(RecallFilter.newBuilder().putMetadata("speaker", "ana"))
                .setK(10)
                .build());
    assertThat(hits.getMemoriesList())
        .hasSize(10)
        .allSatisfy(
            m -> assertThat(m.getEpisode().getMetadataMap()).containsEntry("speaker", "ana"));
  }

  @Test
  void recall_filteredOnAStreamsSession_returnsOnlyItsEpisodes_inEveryMode() throws Exception {
    client.createSpace("sessions", DIM, Metric.METRIC_COSINE);
    Random random = new Random(9);
    String first;
    try (EngramStream a = client.openStream("sessions");
        EngramStream b = client.openStream("sessions")) {
      for (int i = 0; i < 20; i++) {
        (i % 2 == 0 ? a : b)
            .observe(TestData.episode("s" + i, TestData.unitVector(random, DIM), "note " + i));
      }
      assertThat(a.close(Duration.ofSeconds(30))).isTrue();
      assertThat(b.close(Duration.ofSeconds(30))).isTrue();
      first = a.stats().sessionId();
    }
    assertThat(first).isNotEmpty();
    for (RecallMode mode :
        List.of(
            RecallMode.RECALL_MODE_SIMILARITY,
            RecallMode.RECALL_MODE_HYBRID,
            RecallMode.RECALL_MODE_ASSOCIATIVE)) {
      RecallRequest.Builder cue =
          RecallRequest.newBuilder()
              .setMemorySpaceId("sessions")
              .setText("note")
              .setMode(mode)
              .setFilter(RecallFilter.newBuilder().setSessionId(first))
              .setK(6);
      for (float x : TestData.unitVector(random, DIM)) {
        cue.addEmbedding(x);
      }
      assertThat(client.recall(cue.build()).getMemoriesList())
          .as(mode.name())
          .hasSize(6)
          .allSatisfy(
              m -> {
                assertThat(Integer.parseInt(m.getEpisode().getId().substring(1)) % 2).isZero();
                assertThat(m.getSessionId()).isEqualTo(first);
              });
    }
  }

  @Test
  void stream_consolidatedThrough_advancesToTheLastObservation() throws Exception {
    client.createSpace("facts", DIM, Metric.METRIC_COSINE);
    List<Long> reported = new CopyOnWriteArrayList<>();
    StreamListener listener =
        new StreamListener() {
          @Override
          public void onConsolidated(long consolidatedThrough) {
            reported.add(consolidatedThrough);
          }
        };
    Random random = new Random(8);
    try (EngramStream stream =
        client.openStream("facts", StreamOptions.builder().listener(listener).build())) {
      for (int i = 0; i < 50; i++) {
        stream.observe(TestData.episode("f" + i, TestData.unitVector(random, DIM), "fact " + i));
      }
      await().atMost(30, TimeUnit.SECONDS).until(() -> stream.stats().consolidatedThrough() == 49);
      RecallResponse associative =
          stream
              .recall(
                  RecallRequest.newBuilder()
                      .setText("fact 7")
                      .setMode(RecallMode.RECALL_MODE_ASSOCIATIVE)
                      .setK(3)
                      .build())
              .get(30, TimeUnit.SECONDS);
      assertThat(associative.getMemoriesList())
          .isNotEmpty()
          .allSatisfy(m -> assertThat(m.getExplanation().getActivation()).isPositive());
    }
    assertThat(reported).isNotEmpty().isSorted().endsWith(49L);
  }
}
