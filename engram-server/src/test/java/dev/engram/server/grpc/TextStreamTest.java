package dev.engram.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.core.embed.Embedders;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.Space;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text-only episodes and text-only cues end to end over real gRPC with the real all-MiniLM-L6-v2
 * embedder: the server acks them, embeds them off the ack path, indexes them, and a text cue finds
 * the episode that says the same thing in other words.
 */
class TextStreamTest {
  private static final String SPACE = "diary";
  private static final String[] SENTENCES = {
    "I adopted a golden retriever puppy named Max last spring.",
    "My sister moved to Lisbon to work as an architect.",
    "We booked a week of skiing in the Alps for February.",
    "The doctor told me to cut down on coffee because of my blood pressure.",
    "I finally finished reading War and Peace after two years.",
    "Our kitchen renovation went three weeks over schedule.",
    "I started learning to play the cello in an evening class.",
    "My car broke down on the motorway and had to be towed.",
    "The team shipped the new billing system on Friday night.",
    "Grandma turned ninety and we threw her a garden party.",
    "I ran my first half marathon in just under two hours.",
    "The basement flooded after the storm last Tuesday.",
    "We planted tomatoes, basil and peppers in the back garden.",
    "I switched banks because the fees kept going up.",
    "My son lost his first tooth at school today.",
    "The landlord is raising the rent by ten percent next year.",
    "I have been volunteering at the animal shelter on Saturdays.",
    "Our flight to Tokyo was cancelled because of a typhoon.",
    "I bought a secondhand road bike to commute to work.",
    "The quarterly report showed sales down in Europe.",
  };

  @TempDir Path dir;

  @Test
  void textOnlyEpisodesAndCues_roundTripThroughTheStream() throws Exception {
    EngramConfig config = EngramConfig.builder().workers(2).embedders(Embedders.discover()).build();
    try (LoopbackServer server = new LoopbackServer(dir, config)) {
      Space created =
          server.blocking.createSpace(
              CreateSpaceRequest.newBuilder()
                  .setMemorySpaceId(SPACE)
                  .setMetric(Metric.METRIC_COSINE)
                  .setEmbedder("all-minilm-l6-v2")
                  .build());
      assertThat(created.getDimension()).isEqualTo(384);
      assertThat(created.getEmbedder()).isEqualTo("all-minilm-l6-v2");

      try (TestStream s = server.stream(SPACE)) {
        s.init();
        List<Episode> episodes = new ArrayList<>();
        for (int i = 0; i < SENTENCES.length; i++) {
          episodes.add(Episode.newBuilder().setId("s" + i).setContent(SENTENCES[i]).build());
        }
        s.observeBatch(1, episodes);
        s.awaitAccepted(SENTENCES.length);
        s.await(r -> r.hasAck() && r.getAck().getIndexedThrough() >= SENTENCES.length);

        assertThat(recallTop(s, "q1", "Which pet dog did I get?")).isEqualTo("s0");
        assertThat(recallTop(s, "q2", "What happened with the water in the cellar?"))
            .isEqualTo("s11");
        assertThat(recallTop(s, "q3", "Which musical instrument am I studying?")).isEqualTo("s6");
        assertThat(recallTop(s, "q4", "Why could we not fly to Japan?")).isEqualTo("s17");
      }
      Space after =
          server.blocking.getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(SPACE).build());
      assertThat(after.getIndexedCount()).isEqualTo(SENTENCES.length);
      assertThat(after.getEmbedder()).isEqualTo("all-minilm-l6-v2");
      String metrics = server.server.metrics().scrape();
      assertThat(sample(metrics, "engram_embed_lag_seconds_count")).isEqualTo(SENTENCES.length);
      assertThat(sample(metrics, "engram_embed_backlog")).isZero();
    }
  }

  /** The value of an unlabelled sample in a Prometheus scrape. */
  private static double sample(String scrape, String name) {
    Matcher m = Pattern.compile("(?m)^" + name + " (\\S+)$").matcher(scrape);
    assertThat(m.find()).as(name + " in the scrape").isTrue();
    return Double.parseDouble(m.group(1));
  }

  private static String recallTop(TestStream s, String requestId, String text) {
    s.send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(SPACE)
            .setRecall(RecallRequest.newBuilder().setRequestId(requestId).setText(text).setK(3))
            .build());
    StreamResponse answer =
        s.await(r -> r.hasRecall() && r.getRecall().getRequestId().equals(requestId));
    assertThat(answer.getRecall().getMemoriesList()).hasSize(3);
    return answer.getRecall().getMemories(0).getEpisode().getId();
  }
}
