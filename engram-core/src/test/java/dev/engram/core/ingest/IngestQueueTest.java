package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class IngestQueueTest {

  @Test
  void tryReserve_grantsUpToHardLimitAndNoMore() {
    try (IngestQueue q = new IngestQueue(1000, 1, IndexFaultInjector.NONE, System::nanoTime)) {
      assertThat(q.tryReserve(850)).isEqualTo(850);
      assertThat(q.pressure()).isEqualTo(0.85f);
      assertThat(q.tryReserve(100)).isEqualTo(50);
      assertThat(q.tryReserve(1)).isZero();
      q.release(400);
      assertThat(q.depth()).isEqualTo(500);
      assertThat(q.retryAfterMillis()).isPositive();
    }
  }

  @Test
  void tryReserve_concurrently_neverPassesHardLimit() throws Exception {
    try (IngestQueue q = new IngestQueue(10_000, 1, IndexFaultInjector.NONE, System::nanoTime)) {
      AtomicInteger granted = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> runs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        runs.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 10_000; i++) {
                    granted.addAndGet(q.tryReserve(3));
                  }
                }));
      }
      for (Future<?> run : runs) {
        run.get();
      }
      pool.shutdown();
      assertThat(granted.get()).isEqualTo(9_000);
      assertThat(q.depth()).isEqualTo(9_000);
    }
  }

  @Test
  void constructor_badSizes_rejectedWithValue() {
    assertThatThrownBy(() -> new IngestQueue(5, 1, IndexFaultInjector.NONE, System::nanoTime))
        .hasMessageContaining("got 5");
    assertThatThrownBy(() -> new IngestQueue(100, 0, IndexFaultInjector.NONE, System::nanoTime))
        .hasMessageContaining("got 0");
  }
}
