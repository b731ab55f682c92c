package dev.engram.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Memory;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallFilter;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.StreamRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session filter over real gRPC streams to a real durable server: a recall restricted to one
 * stream session returns only that session's episodes, {@code k} of them when {@code k} match, in
 * every mode, although other sessions' and unary episodes lie closer to the cue; and the session
 * survives a restart.
 */
class SessionFilterTest {
  private static final int EACH = 30;

  @TempDir Path dir;

  /**
   * Session a's episodes lie away from the cue (vector and text); b's and the unary ones close to
   * it.
   */
  private static Episode episode(String id, boolean close, int i) {
    float x = close ? 0.95f - i * 0.001f : 0.2f + i * 0.01f;
    return Episode.newBuilder()
        .setId(id)
        .addAllEmbedding(List.of(x, 1f - x, 0.1f, 0.05f))
        .setContent((close ? "a note about the garden, number " : "a kitchen note, number ") + i)
        .build();
  }

  private static List<Episode> episodes(String prefix, boolean close) {
    List<Episode> out = new ArrayList<>();
    for (int i = 0; i < EACH; i++) {
      out.add(episode(prefix + i, close, i));
    }
    return out;
  }

  private static RecallRequest.Builder recall(RecallMode mode, int k, String session) {
    return RecallRequest.newBuilder()
        .setRequestId(mode + "/" + k)
        .setText("garden note")
        .addAllEmbedding(List.of(1f, 0f, 0.1f, 0.05f))
        .setK(k)
        .setMode(mode)
        .setFilter(RecallFilter.newBuilder().setSessionId(session));
  }

  private static List<Memory> recallOnStream(TestStream stream, RecallRequest.Builder request) {
    RecallRequest r = request.build();
    stream.send(StreamRequest.newBuilder().setRecall(r).build());
    return stream
        .await(x -> x.getRecall().getRequestId().equals(r.getRequestId()))
        .getRecall()
        .getMemoriesList();
  }

  private static void assertOnlyFrom(List<Memory> memories, String prefix, String session) {
    assertThat(memories)
        .allSatisfy(
            m -> {
              assertThat(m.getEpisode().getId()).startsWith(prefix);
              assertThat(m.getSessionId()).isEqualTo(session);
            });
  }

  @Test
  void sessionFilter_returnsKOfThatSessionsEpisodes_inEveryMode_andSurvivesRestart()
      throws Exception {
    String sessionA;
    try (LoopbackServer server = new LoopbackServer(dir);
        TestStream a = server.stream("chat");
        TestStream b = server.stream("chat")) {
      server.createSpace("chat", 4, Metric.METRIC_COSINE);
      sessionA = a.init().getInitAck().getSessionId();
      String sessionB = b.init().getInitAck().getSessionId();
      a.observeBatch(1, episodes("a", false));
      b.observeBatch(1, episodes("b", true));
      server.blocking.remember(
          RememberRequest.newBuilder()
              .setMemorySpaceId("chat")
              // Other words than b's, so consolidation does not merge them as near-duplicates.
              .addAllEpisodes(
                  episodes("u", true).stream()
                      .map(
                          e ->
                              e.toBuilder()
                                  .setContent("unary garden reminder " + e.getId())
                                  .build())
                      .toList())
              .build());
      a.awaitAccepted(EACH);
      b.awaitAccepted(EACH);
      // Consolidated: the associative recall spreads over edges to other sessions' episodes.
      a.await(r -> r.hasAck() && r.getAck().getConsolidatedThrough() >= EACH);
      b.await(r -> r.hasAck() && r.getAck().getConsolidatedThrough() >= EACH);

      for (RecallMode mode :
          List.of(
              RecallMode.RECALL_MODE_SIMILARITY,
              RecallMode.RECALL_MODE_HYBRID,
              RecallMode.RECALL_MODE_ASSOCIATIVE)) {
        // Asked on b's stream for a's episodes: a stream may filter on any session of its space.
        List<Memory> ten = recallOnStream(b, recall(mode, 10, sessionA));
        assertThat(ten).as(mode.name()).hasSize(10);
        assertOnlyFrom(ten, "a", sessionA);

        List<Memory> all = recallOnStream(b, recall(mode, 50, sessionA));
        assertThat(all).as(mode.name()).hasSize(EACH);
        assertOnlyFrom(all, "a", sessionA);

        List<Memory> mine = recallOnStream(a, recall(mode, 5, sessionB).setRequestId("b" + mode));
        assertThat(mine).as(mode.name()).hasSize(5);
        assertOnlyFrom(mine, "b", sessionB);

        // Unfiltered, the closer episodes win; unary ones carry no session.
        List<Memory> any = recallOnStream(a, recall(mode, 5, "").setRequestId("any" + mode));
        assertThat(any)
            .as(mode.name())
            .hasSize(5)
            .noneMatch(m -> m.getSessionId().equals(sessionA));
        assertThat(
                server.blocking.recall(
                    recall(mode, 60, "").setMemorySpaceId("chat").clearFilter().build()))
            .satisfies(
                r ->
                    assertThat(r.getMemoriesList())
                        .filteredOn(m -> m.getEpisode().getId().startsWith("u"))
                        .isNotEmpty()
                        .allMatch(m -> m.getSessionId().isEmpty()));
      }

      List<Memory> unknown =
          recallOnStream(
              a, recall(RecallMode.RECALL_MODE_HYBRID, 5, "no-such-session").setRequestId("x"));
      assertThat(unknown).isEmpty();
    }

    // The accepting session is stored with each episode: after a restart the filter still holds.
    try (LoopbackServer server = new LoopbackServer(dir)) {
      for (RecallMode mode :
          List.of(
              RecallMode.RECALL_MODE_SIMILARITY,
              RecallMode.RECALL_MODE_HYBRID,
              RecallMode.RECALL_MODE_ASSOCIATIVE)) {
        List<Memory> ten =
            server
                .blocking
                .recall(recall(mode, 10, sessionA).setMemorySpaceId("chat").build())
                .getMemoriesList();
        assertThat(ten).as(mode.name()).hasSize(10);
        assertOnlyFrom(ten, "a", sessionA);
      }
    }
  }
}
