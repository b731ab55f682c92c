package dev.engram.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Memory;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallFilter;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text cues and filters over a real gRPC stream to a real (durable) server. */
class HybridStreamTest {
  @TempDir Path dir;

  private static Episode episode(String id, float x, String content, long second, String who) {
    return Episode.newBuilder()
        .setId(id)
        .addAllEmbedding(List.of(x, 1f - x, 0.5f, 0.25f))
        .setContent(content)
        .setObservedAt(Timestamp.newBuilder().setSeconds(1_700_000_000L + second))
        .putMetadata("speaker", who)
        .build();
  }

  private static List<String> ids(StreamResponse r) {
    return r.getRecall().getMemoriesList().stream().map(m -> m.getEpisode().getId()).toList();
  }

  @Test
  void textCue_inHybridMode_findsWhatWasJustAcknowledged_withAFilter() throws Exception {
    try (LoopbackServer server = new LoopbackServer(dir);
        TestStream stream = server.stream("chat")) {
      server.createSpace("chat", 4, Metric.METRIC_COSINE);
      stream.init();
      stream.observeBatch(
          1,
          List.of(
              episode("d1:1", 0.9f, "I adopted a puppy named Biscuit last week", 1, "anna"),
              episode("d1:2", 0.1f, "Puppies need a lot of training", 2, "ben"),
              episode("d1:3", 0.5f, "We went hiking in the Alps", 3, "anna")));
      stream.awaitAccepted(3);

      stream.send(
          StreamRequest.newBuilder()
              .setRecall(
                  RecallRequest.newBuilder()
                      .setRequestId("text")
                      .setText("adopting a puppy")
                      .setK(5)
                      .setMode(RecallMode.RECALL_MODE_HYBRID))
              .build());
      StreamResponse text = stream.await(r -> r.getRecall().getRequestId().equals("text"));
      assertThat(ids(text)).containsExactly("d1:1", "d1:2");
      assertThat(text.getRecall().getMemories(0).getScore())
          .isGreaterThan(text.getRecall().getMemories(1).getScore());

      stream.send(
          StreamRequest.newBuilder()
              .setRecall(
                  RecallRequest.newBuilder()
                      .setRequestId("filtered")
                      .setText("puppy")
                      .addAllEmbedding(List.of(0.1f, 0.9f, 0.5f, 0.25f))
                      .setK(5)
                      .setMode(RecallMode.RECALL_MODE_HYBRID)
                      .setFilter(
                          RecallFilter.newBuilder()
                              .putMetadata("speaker", "anna")
                              .setObservedBefore(
                                  Timestamp.newBuilder().setSeconds(1_700_000_003L))))
              .build());
      StreamResponse filtered = stream.await(r -> r.getRecall().getRequestId().equals("filtered"));
      assertThat(ids(filtered)).containsExactly("d1:1");

      RecallResponse unary =
          server.blocking.recall(
              RecallRequest.newBuilder()
                  .setMemorySpaceId("chat")
                  .setText("alps hike")
                  .setK(5)
                  .setMode(RecallMode.RECALL_MODE_HYBRID)
                  .build());
      assertThat(unary.getMemoriesList())
          .extracting(Memory::getEpisode)
          .extracting(Episode::getId)
          .containsExactly("d1:3");
    }
  }
}
