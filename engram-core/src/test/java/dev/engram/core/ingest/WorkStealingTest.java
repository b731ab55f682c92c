package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Work stealing without depending on scheduling: every task of one space goes to one worker's
 * queue; the hook holds each worker at its first task until both workers have started one. The
 * owner is thus stuck on its first batch (at most {@link IndexWorker#MAX_BATCH} of the 3,000) while
 * the rest waits in its queue, so the only way the other worker ever gets a task is by stealing.
 */
class WorkStealingTest {

  @Test
  void oneBusySpace_idleWorkerStealsAndEverythingIsIndexedOnce() {
    Set<String> workerThreads = ConcurrentHashMap.newKeySet();
    Map<String, Integer> indexedTimes = new ConcurrentHashMap<>();
    CountDownLatch bothWorking = new CountDownLatch(2);
    Set<String> timedOut = ConcurrentHashMap.newKeySet();
    IndexFaultInjector recorder =
        (space, id) -> {
          String thread = Thread.currentThread().getName();
          indexedTimes.merge(id, 1, Integer::sum);
          if (!workerThreads.add(thread)) {
            return; // only a worker's first task waits
          }
          bothWorking.countDown();
          try {
            if (!bothWorking.await(30, TimeUnit.SECONDS)) {
              timedOut.add(thread); // no steal happened; the assertion below names it
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        };
    SpaceConfig config = new SpaceConfig(SpaceId.of("hot"), 2, Metric.L2);
    MemorySpace space = new MemorySpace(config, new FlatIndex(2, Metric.L2), 64);
    try (IngestQueue queue = new IngestQueue(10_000, 2, recorder, System::nanoTime)) {
      int n = 3_000;
      assertThat(queue.tryReserve(n)).isEqualTo(n);
      for (int i = 0; i < n; i++) {
        Episode e = new Episode("e" + i, new float[] {i, 1}, "", Instant.EPOCH, 1f, Map.of());
        Admission.Accepted a = (Admission.Accepted) space.admit(e);
        queue.submit(space, a.ordinal(), i + 1, IndexCallback.NONE);
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> queue.depth() == 0);
      assertThat(timedOut).as("workers that waited in vain for a steal").isEmpty();
      // All tasks hash to one worker; the other one stole part of the backlog.
      assertThat(workerThreads).containsExactlyInAnyOrder("engram-index-0", "engram-index-1");
      assertThat(indexedTimes).hasSize(n);
      assertThat(indexedTimes.values()).containsOnly(1);
      assertThat(space.info().indexedCount()).isEqualTo(n);
      assertThat(space.freshSize()).isZero();
    }
  }
}
