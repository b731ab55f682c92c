package dev.engram.core;

import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.ingest.IngestStats;
import dev.engram.core.ingest.QuarantineRecorder;
import dev.engram.core.model.Episode;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.QuarantinedEpisode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.model.SpaceStats;
import dev.engram.core.model.StatusCode;
import dev.engram.core.model.UnavailableException;
import dev.engram.core.recall.Recaller;
import dev.engram.core.session.Acceptor;
import dev.engram.core.session.SessionManager;
import dev.engram.core.session.SessionOutput;
import dev.engram.core.session.StreamConnection;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.space.SpaceRegistry;
import dev.engram.core.storage.DurableStore;
import dev.engram.core.storage.Journal;
import dev.engram.core.storage.StorageConfig;
import dev.engram.core.storage.StorageStats;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The engine: memory spaces, the session protocol, ingest and recall, wired together. Transports
 * (gRPC, WebSocket, REST, Kafka) call only this class and the {@link StreamConnection}s it hands
 * out, so every door takes the same paths.
 *
 * <p>Thread-safety: every method is safe from any thread.
 */
public final class Engram implements AutoCloseable {
  private final SpaceRegistry spaces;
  private final ExecutorService textRefresh =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "engram-text-refresh");
            t.setDaemon(true);
            return t;
          });
  private final IngestQueue queue;
  private final Acceptor acceptor;
  private final Recaller recaller;
  private final SessionManager sessions;
  private final EngramConfig config;
  private final DurableStore store; // null: in memory only
  private DurableStore.Recovered recovered;
  private volatile boolean shuttingDown;

  /** An engine that keeps everything in memory (tests, embedding). */
  public Engram(EngramConfig config) {
    this(config, null);
  }

  /**
   * An engine persisted under {@code storage.dataDir()} (null: in memory only). Opening locks the
   * directory and recovers spaces, episodes, graphs and sessions before it returns.
   *
   * @throws dev.engram.core.storage.DataDirectoryInUseException if another server holds the
   *     directory
   */
  public Engram(EngramConfig config, StorageConfig storage) {
    this.config = config;
    this.store =
        storage == null ? null : DurableStore.open(storage, config.indexFactory(), config.clock());
    this.spaces =
        new SpaceRegistry(
            store == null ? config.indexFactory() : store.indexFactory(),
            config.efSearch(),
            textRefresh);
    this.queue =
        new IngestQueue(
            config.queueCapacity(),
            config.workers(),
            config.faults(),
            config.nanoClock(),
            store == null ? QuarantineRecorder.IN_MEMORY : store,
            config.events());
    if (store != null) {
      store.listen(config.events());
    }
    this.acceptor =
        new Acceptor(
            queue, config.clock(), store == null ? Journal.IN_MEMORY : store, config.events());
    this.recaller = new Recaller(config.nanoClock(), config.limits());
    this.sessions =
        new SessionManager(
            spaces,
            queue,
            acceptor,
            recaller,
            config.nanoClock(),
            config.tickMillis(),
            config.maxRetainedSessions(),
            config.maxAttachedSessions(),
            config.drainTimeout().toNanos(),
            config.limits(),
            config.events());
    if (store != null) {
      try {
        recovered =
            store.recover(
                spaces, sessions::restore, config.maxRetainedSessions(), config.workers());
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }
  }

  /** What recovery found at start (null for an in-memory engine). */
  public DurableStore.Recovered recovered() {
    return recovered;
  }

  /** The store, or null for an in-memory engine. */
  public DurableStore store() {
    return store;
  }

  // ---- spaces ----

  public SpaceInfo createSpace(SpaceConfig space) {
    refuseIfShuttingDown();
    return (store == null ? spaces.create(space) : store.createSpace(spaces, space)).info();
  }

  public SpaceInfo getSpace(SpaceId id) {
    return spaces.get(id).info();
  }

  public List<SpaceInfo> listSpaces() {
    return spaces.list().stream().map(MemorySpace::info).toList();
  }

  /** Counts and sizes of every space, for metrics. */
  public List<SpaceStats> spaceStats() {
    return spaces.list().stream().map(MemorySpace::stats).toList();
  }

  /** Deletes a space; streams open on it end with {@code NOT_FOUND}. */
  public void deleteSpace(SpaceId id) {
    refuseIfShuttingDown();
    sessions.spaceDeleted(store == null ? spaces.delete(id) : store.deleteSpace(spaces, id));
  }

  // ---- memories ----

  /** Stores a batch of episodes (unary path). Unnamed episodes get generated ids. */
  public Acceptor.Remembered remember(SpaceId id, List<Episode> episodes) {
    return remember(Door.EMBEDDED, id, episodes);
  }

  /** As {@link #remember(SpaceId, List)}, for a call that came in through {@code door}. */
  public Acceptor.Remembered remember(Door door, SpaceId id, List<Episode> episodes) {
    refuseIfShuttingDown();
    config.limits().checkBatch(episodes.size());
    return acceptor.remember(spaces.get(id), episodes, "r-" + UUID.randomUUID(), door);
  }

  public RecallResult recall(SpaceId id, RecallQuery query) {
    return recall(Door.EMBEDDED, id, query);
  }

  /** As {@link #recall(SpaceId, RecallQuery)}, for a call that came in through {@code door}. */
  public RecallResult recall(Door door, SpaceId id, RecallQuery query) {
    long started = config.nanoClock().getAsLong();
    RecallResult result = recaller.recall(spaces.get(id), query, 0);
    config.events().recalled(door, query.mode(), config.nanoClock().getAsLong() - started);
    return result;
  }

  /**
   * Reports that a call through {@code door} failed with {@code code}; doors call it for failures
   * of unary calls (stream failures are counted by the engine itself).
   */
  public void failed(Door door, StatusCode code) {
    config.events().failed(door, code);
  }

  /** The metrics hook this engine reports to. */
  public EngineEvents events() {
    return config.events();
  }

  /**
   * Whether the engine takes work: recovery has finished (it does before the constructor returns)
   * and shutdown has not begun. Readiness probes ({@code /readyz}, gRPC health) follow it.
   */
  public boolean accepting() {
    return !shuttingDown;
  }

  /** The store's size, or null for an in-memory engine (or once the store is closed). */
  public StorageStats storageStats() {
    return store == null ? null : store.stats();
  }

  /** Forgets episodes by id; returns how many were stored. */
  public int forget(SpaceId id, List<String> ids) {
    refuseIfShuttingDown();
    MemorySpace space = spaces.get(id);
    return store == null ? space.forget(ids) : store.forget(space, ids);
  }

  /** The stored episode with this id, or null. */
  public Episode episode(SpaceId space, String id) {
    return spaces.get(space).get(id);
  }

  /**
   * The space's quarantined episodes: accepted and stored, but kept out of the index and of recall
   * because indexing them failed twice (they survive restarts until forgotten).
   */
  public List<QuarantinedEpisode> quarantined(SpaceId space) {
    return spaces.get(space).quarantined();
  }

  // ---- streams ----

  /** A new stream: the transport forwards its frames to the connection. */
  public StreamConnection connect(SessionOutput output) {
    return connect(Door.EMBEDDED, output);
  }

  /** A new stream on {@code door}: its outcomes are counted under that door. */
  public StreamConnection connect(Door door, SessionOutput output) {
    return sessions.connect(door, output);
  }

  public IngestStats ingestStats() {
    return queue.stats();
  }

  /** The message and batch limits the doors apply and advertise. */
  public MessageLimits limits() {
    return config.limits();
  }

  /** The space itself, for tools and benchmarks that look inside (text tail, refreshes). */
  public MemorySpace space(SpaceId id) {
    return spaces.get(id);
  }

  public SessionManager sessions() {
    return sessions;
  }

  /**
   * Graceful shutdown: refuse new sessions and writes, let the queue drain (bounded by the
   * configured drain timeout), give open streams a final ack and end them with {@code UNAVAILABLE}.
   *
   * @return whether the queue drained in time
   */
  public boolean shutdown() throws InterruptedException {
    shuttingDown = true;
    sessions.refuseNewSessions();
    boolean drained = queue.awaitDrained(config.drainTimeout());
    sessions.endAll();
    return drained;
  }

  @Override
  public void close() {
    sessions.close();
    queue.close();
    if (store != null) {
      store.close(); // final graph snapshots, flush, unlock
    }
    spaces.list().forEach(MemorySpace::closeText);
    textRefresh.shutdown(); // a running refresh finished: close waited for it
  }

  private void refuseIfShuttingDown() {
    if (shuttingDown) {
      throw new UnavailableException("server is shutting down");
    }
  }
}
