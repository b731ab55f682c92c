package dev.engram.bench.quality;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quality benchmark end to end on a tiny invented conversation (20 turns, 5 questions): real
 * in-process server, real embedder, every recall mode, the JSON report.
 */
class QualityBenchTest {
  @TempDir Path dir;

  @Test
  void fixture_reportsEveryModeWithRealRanks() throws Exception {
    Path data = fixture();
    Path out = dir.resolve("quality.json");

    int status =
        QualityBench.run(new String[] {"--data", data.toString(), "--out", out.toString()});

    assertThat(status).isZero();
    JsonNode report = new ObjectMapper().readTree(out.toFile());
    assertThat(report.get("episodes").asInt()).isEqualTo(20);
    assertThat(report.get("questions").asInt()).isEqualTo(5);
    JsonNode modes = report.get("modes");
    for (var mode : QualityBench.allModes()) {
      JsonNode m = modes.get(QualityBench.shortName(mode));
      assertThat(m).as(mode.name()).isNotNull();
      assertThat(m.get("questions").asInt()).isEqualTo(5);
      assertThat(m.get("categories").get("single-hop").get("questions").asInt()).isEqualTo(4);
      assertThat(m.get("categories").get("temporal").get("questions").asInt()).isEqualTo(1);
      assertThat(m.get("latency_p99_ms").asDouble()).isPositive();
    }
    // Each question paraphrases one turn: plain similarity over MiniLM vectors ranks it near the
    // top.
    JsonNode similarity = modes.get("similarity");
    assertThat(similarity.get("hit@5").asDouble()).isGreaterThanOrEqualTo(0.8);
    assertThat(similarity.get("hit@20").asDouble()).isEqualTo(1.0); // 20 turns, k = 20
    assertThat(similarity.get("mrr").asDouble()).isGreaterThan(0.5);
  }

  @Test
  void firstEvidenceRank_isOneBasedAndZeroWhenMissing() {
    var answer =
        dev.engram.proto.v1.RecallResponse.newBuilder()
            .addMemories(memory("D1:1"))
            .addMemories(memory("D1:2"))
            .build();
    assertThat(QualityBench.firstEvidenceRank(answer, java.util.List.of("D1:2", "D9:9")))
        .isEqualTo(2);
    assertThat(QualityBench.firstEvidenceRank(answer, java.util.List.of("D3:3"))).isZero();
  }

  private static dev.engram.proto.v1.Memory memory(String id) {
    return dev.engram.proto.v1.Memory.newBuilder()
        .setEpisode(dev.engram.proto.v1.Episode.newBuilder().setId(id))
        .build();
  }

  private static Path fixture() throws URISyntaxException {
    return Path.of(QualityBenchTest.class.getResource("/quality/fixture.jsonl").toURI());
  }
}
