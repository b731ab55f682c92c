package dev.engram.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class WarmupTest {

  @Test
  void run_zeroBudget_doesNothing() {
    assertThat(Warmup.run(Duration.ZERO)).isEqualTo(new Warmup.Report(Duration.ZERO, 0, 0, 0));
  }

  @Test
  void run_shortBudget_callsKernelsAcceptsAndRecallsThenStops() {
    Warmup.Report report = Warmup.run(Duration.ofMillis(600));
    assertThat(report.kernelCalls()).isPositive();
    assertThat(report.episodes()).isPositive();
    assertThat(report.recalls()).isPositive();
    // The budget bounds the work; closing the scratch engine may add a little.
    assertThat(report.took()).isLessThan(Duration.ofSeconds(10));
  }
}
