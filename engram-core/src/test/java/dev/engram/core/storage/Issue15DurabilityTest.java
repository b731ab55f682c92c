package dev.engram.core.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.consolidate.ConsolidationConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.session.Acceptor.Remembered;
import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.StreamConnection;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/**
 * Issue 15, items 1-5: what the store acknowledges is durable, and what it reports failed is not
 * stored. Each test opens a race window with {@link StorageFaults} and latches, then checks the
 * invariant (after a restart where it matters).
 */
class Issue15DurabilityTest {
  private static final SpaceId SPACE = SpaceId.of("issue15");
  private static final int DIM = 4;
  private static final long BOUND_SECONDS = 10;

  @TempDir Path dir;

  private volatile Engram engine;

  private Engram open(FsyncPolicy fsync, StorageFaults faults, Duration writeTimeout) {
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .indexFactory(s -> new FlatIndex(s.dimension(), s.metric()))
            // The faults below target the accept path's writes; the consolidation worker's batches
            // go through the same committer and would take the one armed fault.
            .consolidation(ConsolidationConfig.off())
            .build();
    StorageConfig storage =
        StorageConfig.of(dir)
            .withFsync(fsync)
            .withSnapshotInterval(Duration.ofHours(1))
            .withFaults(faults)
            .withWriteTimeout(writeTimeout);
    engine = new Engram(config, storage);
    return engine;
  }

  private Engram reopen() {
    return open(FsyncPolicy.INTERVAL, StorageFaults.NONE, StorageConfig.DEFAULT_WRITE_TIMEOUT);
  }

  private static Episode episode(String id, float seed) {
    return new Episode(
        id, new float[] {seed, 1, -seed, 0.5f}, "content " + id, Instant.EPOCH, 1f, Map.of());
  }

  private static RocksDBException ioError() {
    return new RocksDBException("I/O error", new Status(Status.Code.IOError, null, "EIO"));
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      assertThat(latch.await(BOUND_SECONDS, TimeUnit.SECONDS)).as("latch").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static <T> T outcome(CompletableFuture<T> future) throws Exception {
    return future.get(BOUND_SECONDS, TimeUnit.SECONDS);
  }

  /** Item 1: a write into a space that is being created is refused, or durable. */
  @Test
  void createSpace_writeWhileDefinitionIsStaged_isRefusedOrSurvivesRestart() throws Exception {
    AtomicBoolean fired = new AtomicBoolean();
    CompletableFuture<Remembered> write = new CompletableFuture<>();
    Thread creator = Thread.currentThread();
    StorageFaults raceCreation =
        new StorageFaults() {
          @Override
          public void beforeWrite() {}

          @Override
          public void beforeStage() {
            if (Thread.currentThread() == creator && fired.compareAndSet(false, true)) {
              // Another client writes while the space's definition is being prepared.
              Thread.ofPlatform()
                  .start(
                      () -> {
                        try {
                          write.complete(engine.remember(SPACE, List.of(episode("early", 1))));
                        } catch (RuntimeException e) {
                          write.completeExceptionally(e);
                        }
                      });
              write.handle((r, e) -> null).orTimeout(BOUND_SECONDS, TimeUnit.SECONDS).join();
            }
          }
        };
    try (Engram e = open(FsyncPolicy.INTERVAL, raceCreation, Duration.ofSeconds(BOUND_SECONDS))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      assertThat(fired).isTrue();
    }
    boolean acknowledged;
    try {
      outcome(write);
      acknowledged = true;
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(NotFoundException.class);
      acknowledged = false;
    }
    try (Engram e = reopen()) {
      assertThat(e.episode(SPACE, "early") != null)
          .as("stored after restart iff acknowledged")
          .isEqualTo(acknowledged);
    }
  }

  /** Item 2: a duplicate waiting on an original whose write fails is not acknowledged. */
  @Test
  void duplicate_originalWriteFails_duplicateIsNotAcknowledged() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    CountDownLatch inWrite = new CountDownLatch(1);
    CountDownLatch mayFail = new CountDownLatch(1);
    CompletableFuture<Remembered> duplicate = new CompletableFuture<>();
    long[] originalTicket = {0};
    StorageFaults faults =
        new StorageFaults() {
          @Override
          public void beforeWrite() throws RocksDBException {
            if (armed.compareAndSet(true, false)) {
              inWrite.countDown();
              awaitLatch(mayFail);
              throw ioError();
            }
          }

          @Override
          public void beforeRollback() {
            // If the duplicate can already pass its barrier, let it decide before the rollback.
            if (engine.store().committer().completedThrough() >= originalTicket[0]) {
              duplicate.handle((r, e) -> null).orTimeout(BOUND_SECONDS, TimeUnit.SECONDS).join();
            }
          }
        };
    try (Engram e = open(FsyncPolicy.INTERVAL, faults, Duration.ofSeconds(BOUND_SECONDS))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      originalTicket[0] = e.store().committer().issued() + 1;
      armed.set(true);
      CompletableFuture<Remembered> original =
          CompletableFuture.supplyAsync(() -> e.remember(SPACE, List.of(episode("x", 1))));
      awaitLatch(inWrite);
      Thread second =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      duplicate.complete(e.remember(SPACE, List.of(episode("x", 1))));
                    } catch (RuntimeException ex) {
                      duplicate.completeExceptionally(ex);
                    }
                  });
      // The duplicate waits for the original's write.
      await()
          .atMost(Duration.ofSeconds(BOUND_SECONDS))
          .until(() -> second.getState() == Thread.State.TIMED_WAITING || duplicate.isDone());
      mayFail.countDown();
      assertThatThrownBy(() -> outcome(original)).hasCauseInstanceOf(StorageFailedException.class);
      boolean acknowledged;
      try {
        outcome(duplicate);
        acknowledged = true;
      } catch (ExecutionException ex) {
        assertThat(ex.getCause()).isInstanceOf(StorageFailedException.class);
        acknowledged = false;
      }
      assertThat(e.episode(SPACE, "x") != null)
          .as("stored iff the duplicate was acknowledged")
          .isEqualTo(acknowledged);
    }
  }

  /**
   * Item 2, on a stream: when a duplicate's original is lost, the session's progress past the
   * duplicate is not stored, so a session resumed after a restart is asked for it again.
   */
  @Test
  void streamDuplicate_originalWriteFails_resumedSessionIsAskedForItAgain() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    CountDownLatch inWrite = new CountDownLatch(1);
    CountDownLatch mayFail = new CountDownLatch(1);
    StorageFaults faults =
        new StorageFaults() {
          @Override
          public void beforeWrite() throws RocksDBException {
            if (armed.compareAndSet(true, false)) {
              inWrite.countDown();
              awaitLatch(mayFail);
              throw ioError();
            }
          }
        };
    String sessionId;
    try (Engram e = open(FsyncPolicy.INTERVAL, faults, Duration.ofSeconds(BOUND_SECONDS))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      DurableEngramTest.Recorder out = new DurableEngramTest.Recorder();
      StreamConnection stream = e.connect(out);
      stream.onInit(SPACE.value(), "");
      sessionId = out.next(SessionEvent.InitAck.class).sessionId();
      stream.onObservations("", 1, List.of(episode("a", 2)));
      out.ackCovering(1);
      armed.set(true);
      CompletableFuture<Remembered> original =
          CompletableFuture.supplyAsync(() -> e.remember(SPACE, List.of(episode("x", 1))));
      awaitLatch(inWrite);
      Thread sender =
          Thread.ofPlatform().start(() -> stream.onObservations("", 2, List.of(episode("x", 1))));
      await()
          .atMost(Duration.ofSeconds(BOUND_SECONDS))
          .until(() -> sender.getState() == Thread.State.TIMED_WAITING || !sender.isAlive());
      mayFail.countDown();
      assertThatThrownBy(() -> outcome(original)).hasCauseInstanceOf(StorageFailedException.class);
      sender.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS));
      assertThat(out.next(SessionEvent.Error.class).message()).contains("'x'");
      assertThat(e.episode(SPACE, "x")).isNull();
    }
    try (Engram e = reopen()) {
      DurableEngramTest.Recorder out = new DurableEngramTest.Recorder();
      StreamConnection stream = e.connect(out);
      stream.onInit(SPACE.value(), sessionId);
      assertThat(out.next(SessionEvent.InitAck.class).nextSequence())
          .as("the lost duplicate's number is asked for again")
          .isEqualTo(2);
      stream.onObservations("", 2, List.of(episode("x", 1)));
      out.ackCovering(2);
      assertThat(e.episode(SPACE, "x")).isNotNull();
    }
  }

  /** Item 3: under fsync=always, a write that times out while queued is not written later. */
  @Test
  void fsyncAlways_writeTimesOutWhileQueued_isNotWrittenAndTheQueueStaysSound() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    CountDownLatch inWrite = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    StorageFaults faults =
        () -> {
          if (armed.compareAndSet(true, false)) {
            inWrite.countDown(); // the committer thread is now stuck on the first write
            awaitLatch(release);
          }
        };
    CompletableFuture<Remembered> first;
    try (Engram e = open(FsyncPolicy.ALWAYS, faults, Duration.ofMillis(300))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      armed.set(true);
      first = CompletableFuture.supplyAsync(() -> e.remember(SPACE, List.of(episode("a", 1))));
      awaitLatch(inWrite);
      assertThatThrownBy(() -> e.remember(SPACE, List.of(episode("b", 2))))
          .isInstanceOf(StorageFailedException.class)
          .hasMessageContaining("timed out");
      assertThat(e.episode(SPACE, "b")).isNull();
      release.countDown();
      // The write the committer had taken reports its real outcome, whatever the timeout.
      assertThat(outcome(first).ids()).containsExactly("a");
      assertThat(e.remember(SPACE, List.of(episode("c", 3))).ids()).containsExactly("c");
    }
    try (Engram e = reopen()) {
      assertThat(e.episode(SPACE, "a")).isNotNull();
      assertThat(e.episode(SPACE, "b")).as("reported failed, so not stored").isNull();
      assertThat(e.episode(SPACE, "c")).isNotNull();
    }
  }

  /** Item 4: a forget that fails while preparing its batch does not leave its ticket open. */
  @Test
  void forget_preparingFails_laterDuplicateIsStillAcknowledged() {
    AtomicBoolean armed = new AtomicBoolean();
    StorageFaults faults =
        new StorageFaults() {
          @Override
          public void beforeWrite() {}

          @Override
          public void beforeStage() throws RocksDBException {
            if (armed.get()) {
              throw ioError();
            }
          }
        };
    try (Engram e = open(FsyncPolicy.INTERVAL, faults, Duration.ofSeconds(1))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      e.remember(SPACE, List.of(episode("x", 1)));
      armed.set(true);
      assertThatThrownBy(() -> e.forget(SPACE, List.of("x")))
          .isInstanceOf(StorageFailedException.class);
      armed.set(false);
      assertThat(e.episode(SPACE, "x")).as("the failed forget changed nothing").isNotNull();
      // A duplicate waits for every write set begun before it, the failed forget's included.
      assertThat(e.remember(SPACE, List.of(episode("x", 1))).duplicates()).isEqualTo(1);
    }
  }

  /** Item 5: an episode is visible to others only once it is durable. */
  @Test
  void recall_whileWriteIsInFlight_doesNotSeeIt_andAFailedWriteLeavesNoTrace() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    CountDownLatch inWrite = new CountDownLatch(1);
    CountDownLatch mayFail = new CountDownLatch(1);
    StorageFaults faults =
        () -> {
          if (armed.compareAndSet(true, false)) {
            inWrite.countDown();
            awaitLatch(mayFail);
            throw ioError();
          }
        };
    try (Engram e = open(FsyncPolicy.INTERVAL, faults, Duration.ofSeconds(BOUND_SECONDS))) {
      e.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      e.remember(SPACE, List.of(episode("durable", 5)));
      armed.set(true);
      Episode pending = episode("pending", 1);
      CompletableFuture<Remembered> write =
          CompletableFuture.supplyAsync(() -> e.remember(SPACE, List.of(pending)));
      awaitLatch(inWrite);
      RecallQuery cue = new RecallQuery("q", "", pending.embedding(), "", 2, 0, null);
      assertThat(e.recall(SPACE, cue).memories())
          .extracting(m -> m.episode().id())
          .containsExactly("durable");
      assertThat(e.episode(SPACE, "pending")).isNull();
      assertThat(e.getSpace(SPACE).episodeCount()).isEqualTo(1);
      mayFail.countDown();
      assertThatThrownBy(() -> outcome(write)).hasCauseInstanceOf(EngramException.class);
      assertThat(e.recall(SPACE, cue).memories())
          .extracting(m -> m.episode().id())
          .containsExactly("durable");
      // The failed write left nothing behind: the same id is accepted afresh.
      assertThat(e.remember(SPACE, List.of(pending)).duplicates()).isZero();
      assertThat(e.recall(SPACE, cue).memories().getFirst().episode().id()).isEqualTo("pending");
    }
  }
}
