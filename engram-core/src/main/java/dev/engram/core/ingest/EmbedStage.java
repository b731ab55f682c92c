package dev.engram.core.ingest;

import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
import dev.engram.core.model.Episode;
import dev.engram.core.model.EpisodeValidator;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import dev.engram.core.telemetry.Outcome;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Embeds text-only episodes after they are acknowledged and before they are indexed: accepted
 * (durable, acked) → embedded here → handed to the {@link IngestQueue}'s index workers.
 *
 * <p>Admission: an episode keeps the one unit of {@link IngestQueue} room its acceptor reserved
 * until it is indexed, so episodes waiting here count in the queue's depth and backpressure sees
 * them. The stage's own queue is bounded by the ingest queue's capacity ({@link #submit} cannot
 * find it full, because each task holds a unit of that room); recovery's resubmissions may wait.
 *
 * <p>Failure: a batch whose embedding throws is retried once, episode by episode; an episode that
 * fails again is quarantined like one that kills an index worker twice (stored, out of recall,
 * recorded durably, its session told).
 *
 * <p>Concurrency: {@code threads} daemon threads take batches (up to {@link #MAX_BATCH}) from one
 * {@link ArrayBlockingQueue}; each task is taken by exactly one thread. {@link #backlog} counts
 * tasks queued or being embedded. Impossible outcomes: a task embedded twice; a task that leaves
 * the stage without either reaching the index workers or releasing its room.
 */
public final class EmbedStage implements AutoCloseable {
  public static final int MAX_BATCH = 32;
  private static final System.Logger LOG = System.getLogger(EmbedStage.class.getName());

  private final Embedders embedders;
  private final IngestQueue queue;
  private final EmbedRecorder recorder;
  private final QuarantineRecorder quarantines;
  private final EngineEvents events;
  private final ArrayBlockingQueue<IndexTask> tasks;
  private final AtomicInteger backlog = new AtomicInteger();
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean stopped;

  /**
   * Starts {@code threadCount} embedding threads.
   *
   * @param embedders the embedders spaces name
   * @param queue the ingest queue whose room the tasks hold and whose workers index them
   * @param recorder stores each new vector (the durable store, or {@link EmbedRecorder#IN_MEMORY})
   * @param quarantines records an episode that could not be embedded
   * @param events the metrics hook (embed lag)
   */
  public EmbedStage(
      Embedders embedders,
      IngestQueue queue,
      EmbedRecorder recorder,
      QuarantineRecorder quarantines,
      EngineEvents events,
      int threadCount) {
    if (threadCount < 1) {
      throw new IllegalArgumentException("embed threads must be at least 1, got " + threadCount);
    }
    this.embedders = embedders;
    this.queue = queue;
    this.recorder = recorder;
    this.quarantines = quarantines;
    this.events = events;
    this.tasks = new ArrayBlockingQueue<>(queue.capacity());
    for (int i = 0; i < threadCount; i++) {
      Thread t = Thread.ofPlatform().daemon().name("engram-embed-" + i).unstarted(this::run);
      threads.add(t);
      t.start();
    }
  }

  /**
   * Hands an accepted, durable text-only episode to be embedded, then indexed. The caller holds one
   * unit of ingest-queue room for it. Never blocks (any thread, transport threads included).
   */
  public void submit(
      MemorySpace space,
      int ordinal,
      long sequence,
      IndexCallback callback,
      Door door,
      long acceptedNanos) {
    backlog.incrementAndGet();
    if (!tasks.offer(new IndexTask(space, ordinal, sequence, callback, door, acceptedNanos))) {
      backlog.decrementAndGet();
      throw new IllegalStateException(
          "embed queue full (%d): more tasks than ingest-queue room".formatted(tasks.size()));
    }
  }

  /**
   * Recovery: re-embeds the stored text-only episodes of {@code space} that have no vector yet. It
   * takes ingest-queue room for them beyond the admission limit (they were acknowledged before the
   * restart), so clients see backpressure until they are indexed. May block while the stage is
   * full; call it from the starting thread, not a transport thread.
   */
  public void resubmit(MemorySpace space, List<Integer> ordinals) throws InterruptedException {
    for (int ordinal : ordinals) {
      queue.reserveRecovered(1);
      backlog.incrementAndGet();
      tasks.put(
          new IndexTask(space, ordinal, 0, IndexCallback.NONE, Door.EMBEDDED, queue.nanoTime()));
    }
  }

  /** Text-only episodes queued or being embedded. */
  public int backlog() {
    return backlog.get();
  }

  private void run() {
    List<IndexTask> batch = new ArrayList<>(MAX_BATCH);
    while (!stopped) {
      try {
        IndexTask first = tasks.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        tasks.drainTo(batch, MAX_BATCH - 1);
        process(batch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException | Error e) {
        if (stopped) {
          return; // closing: left unembedded, embedded again at the next start
        }
        LOG.log(Level.ERROR, "embed stage failed on a batch; its episodes are released", e);
        for (IndexTask t : batch) {
          if (!t.finished) {
            giveUp(t, "episode quarantined: embedding it failed (%s)".formatted(e));
          }
        }
      } finally {
        batch.clear();
      }
    }
  }

  /** Embeds a batch, one embedder call per space, and hands each episode on. */
  private void process(List<IndexTask> batch) {
    Map<MemorySpace, List<IndexTask>> bySpace = new LinkedHashMap<>();
    for (IndexTask t : batch) {
      bySpace.computeIfAbsent(t.space, s -> new ArrayList<>()).add(t);
    }
    for (Map.Entry<MemorySpace, List<IndexTask>> e : bySpace.entrySet()) {
      MemorySpace space = e.getKey();
      List<IndexTask> pending = new ArrayList<>();
      List<String> texts = new ArrayList<>();
      for (IndexTask t : e.getValue()) {
        Episode episode = space.episodeAt(t.ordinal);
        if (episode == null || !space.awaitsEmbedding(t.ordinal)) {
          handOn(t); // forgotten, or given a vector meanwhile: the index worker skips or indexes
        } else {
          pending.add(t);
          texts.add(episode.content());
        }
      }
      if (pending.isEmpty()) {
        continue;
      }
      Embedder embedder = embedders.find(space.config().embedder());
      if (embedder == null) {
        String reason =
            "episode quarantined: space's embedder '%s' is not available on this server"
                .formatted(space.config().embedder());
        pending.forEach(t -> giveUp(t, reason));
        continue;
      }
      List<float[]> vectors;
      try {
        vectors = embedder.embed(texts);
      } catch (RuntimeException first) {
        if (stopped) {
          return; // closing: left unembedded, embedded again at the next start
        }
        LOG.log(Level.WARNING, "embedding a batch failed; retrying its episodes one by one", first);
        pending.forEach(t -> embedOne(embedder, t));
        continue;
      }
      for (int i = 0; i < pending.size(); i++) {
        finish(pending.get(i), vectors.get(i));
      }
    }
  }

  private void embedOne(Embedder embedder, IndexTask t) {
    Episode episode = t.space.episodeAt(t.ordinal);
    if (episode == null) {
      handOn(t);
      return;
    }
    float[] vector;
    try {
      vector = embedder.embed(List.of(episode.content())).get(0);
    } catch (RuntimeException e) {
      if (stopped) {
        return;
      }
      giveUp(t, "episode quarantined: embedding it failed twice (%s)".formatted(e));
      return;
    }
    finish(t, vector);
  }

  /** Stores the vector (memory, then the store) and hands the episode to the index workers. */
  private void finish(IndexTask t, float[] vector) {
    MemorySpace space = t.space;
    Episode stored = space.episodeAt(t.ordinal);
    if (stored == null) {
      handOn(t);
      return;
    }
    Episode withVector;
    try {
      withVector = EpisodeValidator.embedded(space.config(), stored, vector);
    } catch (RuntimeException e) {
      giveUp(t, "episode quarantined: its embedder returned an unusable vector (%s)".formatted(e));
      return;
    }
    if (space.embedded(t.ordinal, withVector)) {
      recorder.embedded(space, t.ordinal, withVector);
      long lag = queue.nanoTime() - t.acceptedNanos;
      events.embedded(lag);
      events.visible(lag);
    }
    handOn(t);
  }

  private void handOn(IndexTask t) {
    t.finished = true;
    backlog.decrementAndGet();
    queue.submit(t);
  }

  /** Quarantines an episode that could not be embedded and releases its room. */
  private void giveUp(IndexTask t, String reason) {
    t.finished = true;
    backlog.decrementAndGet();
    MemorySpace space = t.space;
    String id = space.episodeId(t.ordinal);
    LOG.log(Level.ERROR, "space %s: %s: '%s'".formatted(space.config().id(), reason, id));
    try {
      if (space.quarantine(t.ordinal, reason)) {
        events.observations(t.door, Outcome.QUARANTINED, 1);
        quarantines.quarantined(space, t.ordinal, id, reason);
      }
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "recording the quarantine of '%s' failed".formatted(id), e);
    } finally {
      queue.release(1);
      t.callback.quarantined(t.sequence, id, reason);
    }
  }

  /**
   * Stops the threads; what is still queued stays unembedded (embedded again at the next start).
   */
  @Override
  public void close() {
    stopped = true;
    for (Thread t : threads) {
      t.interrupt();
      try {
        t.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
