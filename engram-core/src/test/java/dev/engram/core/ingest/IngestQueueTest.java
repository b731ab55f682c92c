package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.engram.core.index.FlatIndex;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.space.Admission;
import dev.engram.core.space.MemorySpace;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
    }
  }

  @Test
  void retryAfterMillis_timeToDrainToResumeLimitAtMeasuredRate_boundedTo1msAnd5s() {
    AtomicLong nanos = new AtomicLong(1_000_000_000L);
    SpaceConfig config = new SpaceConfig(SpaceId.of("s"), 2, Metric.L2);
    MemorySpace space = new MemorySpace(config, new FlatIndex(2, Metric.L2), 16);
    try (IngestQueue q = new IngestQueue(1000, 1, IndexFaultInjector.NONE, nanos::get)) {
      assertThat(q.tryReserve(500)).isEqualTo(500);
      assertThat(q.retryAfterMillis()).as("at the resume limit: nothing to wait for").isEqualTo(1);
      assertThat(q.tryReserve(400)).isEqualTo(400);
      assertThat(q.retryAfterMillis()).as("no drain rate measured yet").isEqualTo(50);

      // 100 of the 900 reserved are indexed within one (fake) second: 100 per second.
      for (int i = 0; i < 100; i++) {
        Episode e = new Episode("e" + i, new float[] {i, 1}, "", Instant.EPOCH, 1f, Map.of());
        q.submit(space, ((Admission.Accepted) space.admit(e)).ordinal(), i + 1, IndexCallback.NONE);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> q.depth() == 800);
      nanos.addAndGet(TimeUnit.SECONDS.toNanos(1));
      q.sampleDrainRate();
      assertThat(q.drainRate()).isEqualTo(100.0);
      assertThat(q.retryAfterMillis()).as("300 above the resume limit at 100/s").isEqualTo(3000);

      // A second with nothing indexed while work waits: the rate decays to 70/s.
      nanos.addAndGet(TimeUnit.SECONDS.toNanos(1));
      q.sampleDrainRate();
      assertThat(q.drainRate()).isCloseTo(70.0, within(1e-9));
      assertThat(q.tryReserve(100)).isEqualTo(100);
      assertThat(q.retryAfterMillis()).as("400 / 70 per s = 5.7 s, capped").isEqualTo(5000);
      q.release(250);
      assertThat(q.retryAfterMillis()).as("150 / 70 per s").isEqualTo(2143);
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

  @Test
  void callbackThrows_episodeStaysIndexedNotQuarantined_workerKeepsDraining() {
    SpaceConfig config = new SpaceConfig(SpaceId.of("s"), 2, Metric.L2);
    MemorySpace space = new MemorySpace(config, new FlatIndex(2, Metric.L2), 16);
    AtomicInteger throwsLeft = new AtomicInteger(2);
    List<Long> indexed = new java.util.concurrent.CopyOnWriteArrayList<>();
    IndexCallback flaky =
        new IndexCallback() {
          @Override
          public void indexed(long sequence) {
            if (sequence == 2 && throwsLeft.getAndDecrement() > 0) {
              throw new IllegalStateException("injected: the session's callback failed");
            }
            indexed.add(sequence);
          }

          @Override
          public void quarantined(long sequence, String episodeId, String reason) {
            indexed.add(-sequence);
          }
        };
    try (IngestQueue q = new IngestQueue(100, 1, IndexFaultInjector.NONE, System::nanoTime)) {
      assertThat(q.tryReserve(3)).isEqualTo(3);
      for (int i = 1; i <= 3; i++) {
        Episode e = new Episode("e" + i, new float[] {i, 1}, "", Instant.EPOCH, 1f, Map.of());
        q.submit(space, ((Admission.Accepted) space.admit(e)).ordinal(), i, flaky);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> q.depth() == 0);
      assertThat(q.stats().quarantined()).isZero();
      assertThat(q.stats().workerRestarts()).isZero();
      assertThat(space.quarantined()).isEmpty();
      assertThat(space.info().indexedCount()).isEqualTo(3);
      assertThat(indexed).containsExactly(1L, 3L);
    }
  }

  @Test
  void poisonLastInItsBatch_tasksBeforeItInTheBatchAreStillCounted_depthDrainsToZero()
      throws Exception {
    SpaceConfig config = new SpaceConfig(SpaceId.of("s"), 2, Metric.L2);
    MemorySpace space = new MemorySpace(config, new FlatIndex(2, Metric.L2), 16);
    java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    IndexFaultInjector faults =
        (s, id) -> {
          try {
            if (id.equals("e0")) {
              holding.countDown();
              gate.await(); // holds the worker so that e1 and e2 queue up as one batch
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          if (id.equals("e2")) {
            throw new IllegalStateException("injected fault: poison");
          }
        };
    try (IngestQueue q = new IngestQueue(100, 1, faults, System::nanoTime)) {
      assertThat(q.tryReserve(3)).isEqualTo(3);
      for (int i = 0; i < 3; i++) {
        Episode e = new Episode("e" + i, new float[] {i, 1}, "", Instant.EPOCH, 1f, Map.of());
        q.submit(space, ((Admission.Accepted) space.admit(e)).ordinal(), i + 1, IndexCallback.NONE);
        if (i == 0) {
          assertThat(holding.await(10, TimeUnit.SECONDS)).isTrue();
        }
      }
      gate.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> q.stats().quarantined() == 1);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(q.depth()).as("depth").isZero();
                assertThat(q.stats().indexed()).as("indexed or skipped").isEqualTo(2);
              });
      assertThat(space.info().indexedCount()).isEqualTo(2);
    }
  }
}
