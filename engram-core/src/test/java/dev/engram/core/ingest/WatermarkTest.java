package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class WatermarkTest {

  @Property
  void completeInAnyOrder_throughIsLongestCompletedPrefix(
      @ForAll @IntRange(min = 1, max = 3000) int n, @ForAll long seed) {
    List<Long> order = new ArrayList<>();
    for (long i = 1; i <= n; i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(seed));
    Watermark w = new Watermark(0);
    boolean[] done = new boolean[n + 2];
    for (long k : order) {
      w.complete(k);
      done[(int) k] = true;
      long prefix = 0;
      while (done[(int) prefix + 1]) {
        prefix++;
      }
      assertThat(w.through()).isEqualTo(prefix);
    }
    assertThat(w.through()).isEqualTo(n);
  }

  @Test
  void complete_twiceOrBelowStart_isHarmless() {
    Watermark w = new Watermark(10);
    assertThat(w.complete(5)).isEqualTo(10);
    assertThat(w.complete(12)).isEqualTo(10);
    assertThat(w.complete(12)).isEqualTo(10);
    assertThat(w.complete(11)).isEqualTo(12);
  }

  @Test
  void complete_fromManyThreads_reachesTotal() throws Exception {
    int threads = 4;
    int perThread = 50_000;
    Watermark w = new Watermark(0);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<?>> runs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int offset = t;
      runs.add(
          pool.submit(
              () -> {
                long last = 0;
                for (long k = offset + 1; k <= (long) threads * perThread; k += threads) {
                  long through = w.complete(k);
                  assertThat(through).isGreaterThanOrEqualTo(last);
                  last = through;
                }
              }));
    }
    for (Future<?> run : runs) {
      run.get();
    }
    pool.shutdown();
    assertThat(w.through()).isEqualTo((long) threads * perThread);
  }
}
