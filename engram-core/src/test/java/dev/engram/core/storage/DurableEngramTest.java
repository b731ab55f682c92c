package dev.engram.core.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.core.session.StreamConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/** Restart, snapshot, forget/delete, lock and I/O-failure behaviour of a persisted engine. */
class DurableEngramTest {
  private static final SpaceId SPACE = SpaceId.of("durable");
  private static final int DIM = 16;

  @TempDir Path dir;

  private volatile RocksDBException fault;
  private boolean hnsw;

  private Engram open() {
    return open(FsyncPolicy.INTERVAL);
  }

  private Engram open(FsyncPolicy fsync) {
    EngramConfig config =
        EngramConfig.builder()
            .workers(2)
            .indexFactory(
                s ->
                    hnsw
                        ? new HnswIndex(s.dimension(), s.metric(), HnswParams.DEFAULTS)
                        : new FlatIndex(s.dimension(), s.metric()))
            .build();
    StorageConfig storage =
        StorageConfig.of(dir)
            .withFsync(fsync)
            .withSnapshotInterval(Duration.ofHours(1))
            .withFaults(
                () -> {
                  RocksDBException f = fault;
                  if (f != null) {
                    throw f;
                  }
                });
    return new Engram(config, storage);
  }

  private static List<Episode> episodes(int from, int n) {
    Random random = new Random(42 + from);
    List<Episode> out = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      float[] v = new float[DIM];
      for (int d = 0; d < DIM; d++) {
        v[d] = random.nextFloat() * 2 - 1;
      }
      out.add(
          new Episode(
              "e" + i,
              v,
              "content " + i,
              Instant.ofEpochSecond(1_700_000_000L + i, 7),
              0.5f,
              Map.of("k", "v" + i)));
    }
    return out;
  }

  private void assertAllRecallable(Engram engine, List<Episode> expected) {
    assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(expected.size());
    for (Episode e : expected) {
      Episode stored = engine.episode(SPACE, e.id());
      assertThat(stored).as(e.id()).isNotNull();
      assertThat(stored.embedding()).isEqualTo(e.embedding());
      assertThat(stored.content()).isEqualTo(e.content());
      assertThat(stored.observedAt()).isEqualTo(e.observedAt());
      assertThat(stored.metadata()).isEqualTo(e.metadata());
      List<Memory> top =
          engine.recall(SPACE, new RecallQuery("q", "", e.embedding(), "", 1, 0, null)).memories();
      assertThat(top).as("top-1 for " + e.id()).hasSize(1);
      assertThat(top.getFirst().episode().id()).isEqualTo(e.id());
    }
  }

  @Test
  void restart_withSnapshot_deletedSnapshot_corruptSnapshot_sameEpisodes() throws IOException {
    hnsw = true;
    List<Episode> all = episodes(0, 2000);
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.remember(SPACE, all.subList(0, 1000));
      engine.remember(SPACE, all.subList(1000, 2000));
      await(engine, 2000);
    }
    try (Engram engine = open()) {
      assertThat(engine.recovered().snapshotsLoaded()).isEqualTo(1);
      assertThat(engine.recovered().reindexed()).isZero();
      assertAllRecallable(engine, all);
    }
    Path graphs = dir.resolve("graphs");
    Path graph;
    try (var files = Files.list(graphs)) {
      graph = files.filter(f -> f.toString().endsWith(".graph")).findFirst().orElseThrow();
    }
    byte[] bytes = Files.readAllBytes(graph);
    bytes[bytes.length / 2] ^= 0x5A;
    Files.write(graph, bytes);
    try (Engram engine = open()) {
      assertThat(engine.recovered().snapshotsLoaded()).isZero();
      assertThat(engine.recovered().reindexed()).isEqualTo(2000);
      assertAllRecallable(engine, all);
    }
    try (var files = Files.list(graphs)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    try (Engram engine = open()) {
      assertThat(engine.recovered().snapshotsLoaded()).isZero();
      assertAllRecallable(engine, all);
    }
  }

  @Test
  void restart_snapshotOlderThanStore_indexesOnlyNewerAndDropsForgotten() throws IOException {
    List<Episode> all = episodes(0, 600);
    Path saved = Files.createTempDirectory(dir.getParent(), "older-graphs");
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.remember(SPACE, all.subList(0, 500));
      await(engine, 500);
      engine.store().snapshotAll(true);
      copyDir(dir.resolve("graphs"), saved); // the snapshot a crash would have left
      engine.remember(SPACE, all.subList(500, 600));
      assertThat(engine.forget(SPACE, List.of("e3", "e550", "missing"))).isEqualTo(2);
      await(engine, 598);
    }
    copyDir(saved, dir.resolve("graphs"));
    List<Episode> left = new ArrayList<>(all);
    left.removeIf(e -> e.id().equals("e3") || e.id().equals("e550"));
    try (Engram engine = open()) {
      assertThat(engine.recovered().snapshotsLoaded()).isEqualTo(1);
      assertThat(engine.recovered().reindexed()).isEqualTo(99); // 500..599 without e550
      assertAllRecallable(engine, left);
      assertThat(engine.episode(SPACE, "e3")).isNull();
    }
  }

  private static void copyDir(Path from, Path to) throws IOException {
    try (var files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(
            f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  @Test
  void forgetAndDeleteSpace_stayGoneAfterRestart() {
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      engine.createSpace(new SpaceConfig(SpaceId.of("doomed"), DIM, Metric.COSINE));
      engine.remember(SPACE, episodes(0, 10));
      engine.remember(SpaceId.of("doomed"), episodes(0, 10));
      assertThat(engine.forget(SPACE, List.of("e1", "e2"))).isEqualTo(2);
      engine.deleteSpace(SpaceId.of("doomed"));
    }
    try (Engram engine = open()) {
      assertThat(engine.listSpaces()).extracting(s -> s.config().id()).containsExactly(SPACE);
      assertThat(engine.episode(SPACE, "e1")).isNull();
      assertThat(engine.episode(SPACE, "e3")).isNotNull();
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(8);
      // A space of the same name starts empty: the old incarnation's episodes stay gone.
      engine.createSpace(new SpaceConfig(SpaceId.of("doomed"), DIM, Metric.COSINE));
      assertThat(engine.getSpace(SpaceId.of("doomed")).episodeCount()).isZero();
    }
    try (Engram engine = open()) {
      assertThat(engine.getSpace(SpaceId.of("doomed")).episodeCount()).isZero();
    }
  }

  @Test
  void resumedSession_afterRestart_continuesAtNextSequence() throws InterruptedException {
    String sessionId;
    try (Engram engine = open(FsyncPolicy.ALWAYS)) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      Recorder out = new Recorder();
      StreamConnection stream = engine.connect(out);
      stream.onInit(SPACE.value(), "");
      sessionId = out.next(SessionEvent.InitAck.class).sessionId();
      stream.onObservations("", 1, episodes(0, 5));
      assertThat(out.ackCovering(5).acceptedThrough()).isEqualTo(5);
      stream.onTransportClosed();
    }
    try (Engram engine = open(FsyncPolicy.ALWAYS)) {
      Recorder out = new Recorder();
      StreamConnection stream = engine.connect(out);
      stream.onInit(SPACE.value(), sessionId);
      SessionEvent.InitAck ack = out.next(SessionEvent.InitAck.class);
      assertThat(ack.sessionId()).isEqualTo(sessionId);
      assertThat(ack.nextSequence()).isEqualTo(6);
      stream.onObservations("", 4, episodes(3, 4)); // 4, 5 are duplicates; 6, 7 new
      SessionEvent.Ack done = out.ackCovering(7);
      assertThat(done.acceptedThrough()).isEqualTo(7);
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(7);
    }
  }

  @Test
  void secondEngine_onSameDirectory_failsAtOnce() {
    try (Engram engine = open()) {
      assertThatThrownBy(this::open)
          .isInstanceOf(DataDirectoryInUseException.class)
          .hasMessageContaining("is in use by another Engram server")
          .hasMessageContaining(dir.toAbsolutePath().toString());
      assertThat(engine.listSpaces()).isEmpty();
    }
    try (Engram again = open()) {
      assertThat(again.listSpaces()).isEmpty(); // the lock is released on close
    }
  }

  @Test
  void diskFull_isResourceExhausted_andNothingIsStored() throws InterruptedException {
    try (Engram engine = open()) {
      engine.createSpace(new SpaceConfig(SPACE, DIM, Metric.L2));
      fault =
          new RocksDBException(
              "While appending to file: No space left on device",
              new Status(Status.Code.IOError, Status.SubCode.NoSpace, "No space left on device"));
      assertThatThrownBy(() -> engine.remember(SPACE, episodes(0, 3)))
          .isInstanceOf(StorageFullException.class)
          .satisfies(
              e ->
                  assertThat(StatusCode.of((StorageFullException) e))
                      .isEqualTo(StatusCode.RESOURCE_EXHAUSTED));
      assertThat(engine.episode(SPACE, "e0")).isNull();

      Recorder out = new Recorder();
      StreamConnection stream = engine.connect(out);
      stream.onInit(SPACE.value(), "");
      String session = out.next(SessionEvent.InitAck.class).sessionId();
      fault = new RocksDBException("I/O error", new Status(Status.Code.IOError, null, "EIO"));
      stream.onObservations("", 1, episodes(0, 3));
      SessionEvent.Error error = out.next(SessionEvent.Error.class);
      assertThat(error.code()).isEqualTo(StatusCode.UNAVAILABLE);
      assertThat(engine.getSpace(SPACE).episodeCount()).isZero();

      fault = null; // the disk recovers: the client resumes and loses nothing
      Recorder again = new Recorder();
      StreamConnection resumed = engine.connect(again);
      resumed.onInit(SPACE.value(), session);
      assertThat(again.next(SessionEvent.InitAck.class).nextSequence()).isEqualTo(1);
      resumed.onObservations("", 1, episodes(0, 3));
      assertThat(again.ackCovering(3).acceptedThrough()).isEqualTo(3);
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(3);
    }
    try (Engram engine = open()) {
      assertThat(engine.getSpace(SPACE).episodeCount()).isEqualTo(3);
    }
  }

  @Test
  void unknownSpace_afterRestart_isNotFound() {
    try (Engram engine = open()) {
      assertThatThrownBy(() -> engine.getSpace(SPACE)).isInstanceOf(NotFoundException.class);
    }
  }

  private static void await(Engram engine, long indexed) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (engine.getSpace(SPACE).indexedCount() < indexed) {
      assertThat(System.nanoTime()).as("indexing timed out").isLessThan(deadline);
      Thread.onSpinWait();
    }
  }

  /** Records what a session sends. */
  static final class Recorder implements SessionOutput {
    private final LinkedBlockingQueue<SessionEvent> events = new LinkedBlockingQueue<>();

    @Override
    public void send(SessionEvent event) {
      events.add(event);
    }

    @Override
    public void requestMore() {}

    @Override
    public void end(SessionEvent.Error error) {
      if (error != null) {
        events.add(error);
      }
    }

    /**
     * The first ack that covers {@code through}: acks sent earlier (on attach, or by the ticker for
     * index progress) are skipped, so the test does not depend on the ticker's timing.
     */
    SessionEvent.Ack ackCovering(long through) throws InterruptedException {
      while (true) {
        SessionEvent.Ack ack = next(SessionEvent.Ack.class);
        if (ack.acceptedThrough() >= through) {
          return ack;
        }
      }
    }

    <T extends SessionEvent> T next(Class<T> type) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (true) {
        SessionEvent e = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        assertThat(e).as("waiting for " + type.getSimpleName()).isNotNull();
        if (type.isInstance(e)) {
          return type.cast(e);
        }
      }
    }
  }
}
