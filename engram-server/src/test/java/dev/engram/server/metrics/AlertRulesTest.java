package dev.engram.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Prometheus rules in deploy/prometheus: valid ({@code promtool check rules}), proven by their
 * unit tests ({@code promtool test rules}), and each alert complete: severity, summary,
 * description, a runbook section in docs/operations.md, and a unit test that fires it and one that
 * keeps it silent.
 */
class AlertRulesTest {
  private static final Path ROOT = Promtool.repoRoot();
  private static final String ALERTS = "deploy/prometheus/engram-alerts.yml";
  private static final String RECORDING = "deploy/prometheus/engram-recording.yml";
  private static final String TESTS = "deploy/prometheus/tests/engram-alerts-test.yml";

  @Test
  void rules_promtoolCheck_passes() throws Exception {
    Promtool.Result result = Promtool.run(null, "check", "rules", ALERTS, RECORDING);
    assertThat(result.exitCode()).as(result.output()).isZero();
  }

  @Test
  void rules_promtoolUnitTests_pass() throws Exception {
    Promtool.Result result = Promtool.run(null, "test", "rules", TESTS);
    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("SUCCESS");
  }

  @Test
  void alerts_eachComplete_withRunbookAndFiringAndSilentTests() throws Exception {
    String alerts = Files.readString(ROOT.resolve(ALERTS));
    String tests = Files.readString(ROOT.resolve(TESTS));
    String operations = Files.readString(ROOT.resolve("docs/operations.md"));
    List<String> blocks = new ArrayList<>(List.of(alerts.split("\n      - alert: ")));
    blocks.removeFirst();
    assertThat(blocks).hasSizeGreaterThanOrEqualTo(9);
    for (String block : blocks) {
      String name = block.lines().findFirst().orElseThrow().strip();
      assertThat(name).as("alert name").matches("Engram[A-Z][A-Za-z]+");
      assertThat(block)
          .as(name)
          .containsPattern("severity: (critical|warning)")
          .contains("summary: ", "description: ")
          .contains("runbook_url: \"docs/operations.md#" + name.toLowerCase(Locale.ROOT) + "\"");
      assertThat(operations).as("runbook section for " + name).contains("\n### " + name + "\n");
      Matcher m = Pattern.compile("alertname: " + name + "\n\\s+exp_alerts:(.*)").matcher(tests);
      boolean fires = false;
      boolean silent = false;
      while (m.find()) {
        if (m.group(1).strip().equals("[]")) {
          silent = true;
        } else {
          fires = true;
        }
      }
      assertThat(fires).as(name + " has a promtool test where it fires").isTrue();
      assertThat(silent).as(name + " has a promtool test where it stays silent").isTrue();
    }
  }
}
