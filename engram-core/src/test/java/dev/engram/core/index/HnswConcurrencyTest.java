package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Inserts from three threads while two threads search and one removes, then checks the invariants:
 * no search ever returned an ordinal whose removal had completed before the search began, and
 * afterwards every inserted, unremoved vector is its own nearest neighbour at ef=100.
 */
class HnswConcurrencyTest {
  private static final int N = 12_000;
  private static final int DIM = 64;
  private static final int INSERTERS = 3;

  @Test
  void concurrentInsertSearchRemove_invariantsHold() throws Exception {
    float[][] data = new ClusteredVectors(DIM, 200, 11).take(N);
    // Small repair fraction so repairs also run during the concurrent phase.
    HnswIndex index = new HnswIndex(DIM, Metric.COSINE, new HnswParams(12, 80, 64, 0.02), 3);

    // Every fourth ordinal is removed, in this order, by the remover once it has been inserted.
    int[] removalOrder = new int[N / 4];
    int[] removalRank = new int[N];
    Arrays.fill(removalRank, Integer.MAX_VALUE);
    for (int r = 0; r < removalOrder.length; r++) {
      removalOrder[r] = 4 * r + 1;
      removalRank[4 * r + 1] = r;
    }
    AtomicInteger removedCount = new AtomicInteger();
    AtomicInteger inserted = new AtomicInteger();
    AtomicBoolean insertsDone = new AtomicBoolean();
    AtomicLong searches = new AtomicLong();
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);

    ExecutorService pool = Executors.newFixedThreadPool(INSERTERS + 3);
    List<Future<?>> tasks = new ArrayList<>();
    for (int t = 0; t < INSERTERS; t++) {
      int first = t;
      tasks.add(
          pool.submit(
              () -> {
                start.await();
                for (int i = first; i < N; i += INSERTERS) {
                  index.add(i, data[i]);
                  inserted.incrementAndGet();
                }
                return null;
              }));
    }
    tasks.add(
        pool.submit(
            () -> {
              start.await();
              for (int r = 0; r < removalOrder.length; r++) {
                int id = removalOrder[r];
                while (!index.contains(id)) {
                  Thread.onSpinWait();
                }
                assertThat(index.remove(id)).isTrue();
                removedCount.set(r + 1);
              }
              return null;
            }));
    for (int t = 0; t < 2; t++) {
      int offset = t;
      tasks.add(
          pool.submit(
              () -> {
                start.await();
                int q = offset;
                while (!insertsDone.get()) {
                  int removedBefore = removedCount.get();
                  float[] query = data[(q = (q + 7919) % N)];
                  for (SearchHit hit :
                      index.search(query, 10, 50, Float.NEGATIVE_INFINITY, VectorIndex.ALL)) {
                    if (removalRank[hit.ordinal()] < removedBefore) {
                      violations.add("search returned " + hit.ordinal() + ", removed earlier");
                    }
                  }
                  searches.incrementAndGet();
                }
                return null;
              }));
    }
    start.countDown();
    for (int t = 0; t < INSERTERS + 1; t++) {
      tasks.get(t).get(60, TimeUnit.SECONDS);
    }
    insertsDone.set(true);
    for (Future<?> task : tasks) {
      task.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();

    assertThat(violations).isEmpty();
    assertThat(searches.get()).isPositive();
    assertThat(index.size()).isEqualTo(N - removalOrder.length);

    List<Integer> notFound = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      if (removalRank[i] != Integer.MAX_VALUE) {
        assertThat(index.contains(i)).isFalse();
        continue;
      }
      List<SearchHit> hits =
          index.search(data[i], 1, 100, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      if (hits.isEmpty() || hits.get(0).ordinal() != i) {
        notFound.add(i);
      }
    }
    assertThat(notFound).as("vectors that are not their own top-1").isEmpty();
  }
}
