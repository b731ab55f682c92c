package dev.engram.core.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The acceptance-first policy: index workers yield to accepts in flight while the queue is below
 * the resume limit, index at full speed otherwise, and index everything either way.
 */
class AcceptanceFirstTest {
  private static final int EPISODES = 20;

  /** A clock that moves 1 ms at every read: each insert "takes" at least 1 ms. */
  private final AtomicLong nanos = new AtomicLong();

  private IngestQueue queue(double share) {
    IngestQueue q =
        new IngestQueue(1000, 1, IndexFaultInjector.NONE, () -> nanos.addAndGet(1_000_000));
    q.indexShare(share);
    return q;
  }

  private static MemorySpace space() {
    SpaceConfig config = new SpaceConfig(SpaceId.of("s"), 2, Metric.L2);
    return new MemorySpace(config, new FlatIndex(2, Metric.L2), 16);
  }

  /** Reserves, admits and submits {@link #EPISODES} episodes; returns the space. */
  private static MemorySpace submit(IngestQueue q) {
    MemorySpace space = space();
    assertThat(q.tryReserve(EPISODES)).isEqualTo(EPISODES);
    for (int i = 0; i < EPISODES; i++) {
      Episode e = new Episode("e" + i, new float[] {i, 1}, "", Instant.EPOCH, 1f, Map.of());
      q.submit(space, ((Admission.Accepted) space.admit(e)).ordinal(), i + 1, IndexCallback.NONE);
    }
    return space;
  }

  private static void awaitIndexed(IngestQueue q, MemorySpace space) {
    await().atMost(Duration.ofSeconds(10)).until(() -> q.depth() == 0);
    for (int i = 0; i < EPISODES; i++) {
      assertThat(space.isIndexed(i)).as("episode %d indexed", i).isTrue();
    }
  }

  @Test
  void indexShare_acceptInFlight_workersYieldAndIndexEverything() {
    try (IngestQueue q = queue(0.25)) {
      q.acceptBegan();
      try {
        MemorySpace space = submit(q);
        awaitIndexed(q, space);
        // Each insert took >= 1 ms on the fake clock, so each yield was 3x that, capped at 2 ms.
        assertThat(q.yieldedNanos()).isGreaterThanOrEqualTo(EPISODES * 2_000_000L);
      } finally {
        q.acceptEnded();
      }
    }
  }

  @Test
  void indexShare_noAcceptInFlight_neverYields() {
    try (IngestQueue q = queue(0.25)) {
      awaitIndexed(q, submit(q));
      assertThat(q.yieldedNanos()).isZero();
    }
  }

  @Test
  void indexShare_atResumeLimit_indexesAtFullSpeed() {
    try (IngestQueue q = queue(0.25)) {
      assertThat(q.tryReserve(500)).isEqualTo(500); // pressure 0.5 before the episodes come
      q.acceptBegan();
      try {
        MemorySpace space = submit(q);
        await().atMost(Duration.ofSeconds(10)).until(() -> q.depth() == 500);
        for (int i = 0; i < EPISODES; i++) {
          assertThat(space.isIndexed(i)).isTrue();
        }
        assertThat(q.yieldedNanos()).isZero();
      } finally {
        q.acceptEnded();
        q.release(500);
      }
    }
  }

  @Test
  void indexShare_one_neverYields() {
    try (IngestQueue q = queue(1)) {
      q.acceptBegan();
      try {
        awaitIndexed(q, submit(q));
        assertThat(q.yieldedNanos()).isZero();
      } finally {
        q.acceptEnded();
      }
    }
  }

  @Test
  void indexShare_outOfRange_refusedNamingTheValue() {
    try (IngestQueue q = queue(1)) {
      assertThatThrownBy(() -> q.indexShare(0)).hasMessageContaining("got 0.0");
      assertThatThrownBy(() -> q.indexShare(1.5)).hasMessageContaining("got 1.5");
      assertThatThrownBy(() -> q.indexShare(Double.NaN)).hasMessageContaining("NaN");
    }
  }
}
