package dev.engram.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The load generator's WebSocket door end to end against its in-process server: tiny scenarios
 * whose figures must show every acknowledged observation stored exactly once and a draining close.
 * Asserts correctness only, never speed.
 */
class LoadBenchWsTest {
  @TempDir Path dir;

  private JsonNode run(String... args) throws Exception {
    Path json = dir.resolve(args[0] + ".json");
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--json", json.toString(), "--warmup", "0s", "--door", "ws"));
    assertThat(LoadBench.run(all.toArray(String[]::new))).isZero();
    return new ObjectMapper().readTree(json.toFile());
  }

  /** A queue of 100 against batches of 50 offered faster than they index: go-back-N resends. */
  @Test
  void wsDoor_overloadedSmallQueue_resendsAndStoresEveryAckedOnce() throws Exception {
    JsonNode r =
        run(
            "overload",
            "--duration",
            "300ms",
            "--rate",
            "10000",
            "--queue-capacity",
            "100",
            "--batch",
            "50",
            "--dim",
            "128");
    assertThat(r.get("door").asText()).isEqualTo("ws");
    assertThat(r.get("acked").asLong()).isPositive();
    assertThat(r.get("overload_resends").asLong()).isPositive();
    assertThat(r.get("stored").asLong()).isEqualTo(r.get("acked").asLong());
    assertThat(r.get("lost").asLong()).isZero();
    assertThat(r.get("duplicated").asLong()).isZero();
    assertThat(r.get("closed_cleanly").asBoolean()).isTrue();
  }

  @Test
  void wsDoor_mixedWithStreamRecalls_recallsAnsweredAndStoredOnce() throws Exception {
    JsonNode r =
        run(
            "mixed",
            "--duration",
            "1500ms",
            "--rate",
            "2000",
            "--streams",
            "2",
            "--spaces",
            "2",
            "--batch",
            "100",
            "--dim",
            "32");
    assertThat(r.get("recalls").asLong()).isPositive();
    assertThat(r.get("acked").asLong()).isEqualTo(r.get("stored").asLong()).isPositive();
    assertThat(r.get("closed_cleanly").asBoolean()).isTrue();
  }

  @Test
  void recallScenario_grpcAndRest_sameTop1OnTheSameData() throws Exception {
    JsonNode r =
        run("recall", "--episodes", "500", "--duration", "1s", "--dim", "32", "--batch", "100");
    assertThat(r.get("indexed").asLong()).isEqualTo(500);
    assertThat(r.get("measured_per_door").asLong()).isPositive();
    assertThat(r.get("rest_recall_p50_ms").asDouble()).isPositive();
    assertThat(r.get("same_top1_fraction").asDouble()).isEqualTo(1.0);
  }
}
