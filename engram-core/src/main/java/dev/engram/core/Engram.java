package dev.engram.core;

import dev.engram.core.auth.AuditLog;
import dev.engram.core.auth.Authorizer;
import dev.engram.core.auth.Principal;
import dev.engram.core.auth.TokenStore;
import dev.engram.core.consolidate.AssociationSink;
import dev.engram.core.consolidate.Consolidator;
import dev.engram.core.embed.Embedder;
import dev.engram.core.ingest.EmbedRecorder;
import dev.engram.core.ingest.EmbedStage;
import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.ingest.IngestStats;
import dev.engram.core.ingest.QuarantineRecorder;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.Limit;
import dev.engram.core.model.LimitRefusal;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.Metric;
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
import java.security.SecureRandom;
import java.time.Duration;
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
  private final EmbedStage embeds;
  private final Acceptor acceptor;
  private final Recaller recaller;
  private final SessionManager sessions;
  private final EngramConfig config;
  private final DurableStore store; // null: in memory only
  private final Authorizer auth;
  private final AuditLog audit;
  private final Consolidator consolidator; // null: consolidation off
  private final Object spaceCreation = new Object(); // held while a create checks the space limit
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
    this(config, storage, false);
  }

  /**
   * As {@link #Engram(EngramConfig, StorageConfig)}, with authentication on or off: when on, every
   * call through {@link #caller} and {@link #connect(Door, SessionOutput, String)} needs a token
   * (see {@link Authorizer}). Tokens are stored with the data (in memory without a data directory),
   * and administrative actions go to {@code <data-dir>/audit.log}.
   */
  public Engram(EngramConfig config, StorageConfig storage, boolean authEnabled) {
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
    queue.indexShare(config.indexShare());
    if (store != null) {
      store.listen(config.events());
    }
    this.embeds =
        new EmbedStage(
            config.embedders(),
            queue,
            store == null ? EmbedRecorder.IN_MEMORY : store,
            store == null ? QuarantineRecorder.IN_MEMORY : store,
            config.events(),
            1);
    this.acceptor =
        new Acceptor(
            queue,
            config.clock(),
            store == null ? Journal.IN_MEMORY : store,
            config.events(),
            embeds);
    this.consolidator =
        config.consolidation().enabled()
            ? new Consolidator(
                config.consolidation(),
                config.clock(),
                queue::pressure,
                store == null ? AssociationSink.NONE : store)
            : null;
    if (consolidator != null) {
      queue.listen(consolidator::indexed);
    }
    this.recaller =
        new Recaller(
            config.nanoClock(),
            config.limits(),
            config.clock(),
            consolidator,
            config.embedders(),
            config.recall());
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
    this.auth =
        new Authorizer(
            authEnabled,
            new TokenStore(
                store == null ? TokenStore.Records.inMemory() : store,
                config.clock(),
                new SecureRandom()));
    this.audit =
        store == null
            ? AuditLog.loggerOnly(config.clock())
            : AuditLog.open(store.dataDir().resolve("audit.log"), config.clock());
    sessions.reportConsolidation(consolidator != null);
    if (store != null) {
      try {
        recovered =
            store.recover(
                spaces, sessions::restore, config.maxRetainedSessions(), config.workers());
        reembed();
      } catch (RuntimeException e) {
        close();
        throw e;
      }
      if (consolidator != null) {
        consolidateRecovered();
      }
    }
  }

  /**
   * Hands the consolidation worker every recovered episode it had not consolidated before the
   * restart (accepted, or indexed, after its last batch was written).
   */
  private void consolidateRecovered() {
    for (MemorySpace space : spaces.list()) {
      for (int ordinal : space.ordinals()) {
        if (!space.associations().contains(ordinal)
            && space.isIndexed(ordinal)
            && !space.isQuarantined(ordinal)) {
          consolidator.indexed(space, ordinal, 0, IndexCallback.NONE);
        }
      }
    }
  }

  /** Recovery: text-only episodes stored without a vector go through the embed stage again. */
  private void reembed() {
    for (MemorySpace space : spaces.list()) {
      if (!space.config().hasEmbedder()) {
        continue;
      }
      List<Integer> ordinals = space.unembedded();
      if (ordinals.isEmpty()) {
        continue;
      }
      if (config.embedders().find(space.config().embedder()) == null) {
        System.getLogger(Engram.class.getName())
            .log(
                System.Logger.Level.ERROR,
                "space %s: %d text-only episodes wait for embedder '%s', which this server lacks"
                    .formatted(space.config().id(), ordinals.size(), space.config().embedder()));
        continue;
      }
      try {
        embeds.resubmit(space, ordinals);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new UnavailableException("interrupted while re-embedding text-only episodes");
      }
    }
  }

  /** The consolidation worker, or null when consolidation is off. */
  public Consolidator consolidator() {
    return consolidator;
  }

  /** What recovery found at start (null for an in-memory engine). */
  public DurableStore.Recovered recovered() {
    return recovered;
  }

  /** The store, or null for an in-memory engine. */
  public DurableStore store() {
    return store;
  }

  // ---- access ----

  /** The access rules and tokens. */
  public Authorizer auth() {
    return auth;
  }

  AuditLog audit() {
    return audit;
  }

  /**
   * The engine as the holder of {@code authorization} may use it: what every door's unary calls go
   * through.
   *
   * @param authorization the {@code Authorization} value the call carried ({@code Bearer <token>}),
   *     or null
   * @throws dev.engram.core.model.UnauthenticatedException if authentication is on and the token is
   *     missing or not valid
   */
  public Caller caller(String authorization) {
    return new Caller(this, auth, auth.principal(authorization));
  }

  // ---- spaces ----

  /**
   * Creates a space from a request's fields: with an {@code embedder}, a {@code dimension} of 0
   * means the embedder's, and any other must equal it.
   *
   * @throws InvalidInputException naming an unknown embedder or a dimension that does not match
   */
  public SpaceInfo createSpace(SpaceId id, int dimension, Metric metric, String embedder) {
    return createSpace(new SpaceConfig(id, dimension, metric, Duration.ZERO, embedder));
  }

  /**
   * Creates a space, or returns the one with the same id and configuration. With an embedder, a
   * dimension of 0 means the embedder's, and any other must equal it.
   *
   * @throws InvalidInputException naming an unknown embedder or a dimension that does not match
   * @throws dev.engram.core.model.TooManySpacesException when a new space would pass {@link
   *     MessageLimits#maxSpaces}
   */
  public SpaceInfo createSpace(SpaceConfig space) {
    refuseIfShuttingDown();
    if (space.hasEmbedder()) {
      Embedder e = config.embedders().require(space.embedder());
      if (space.dimension() == 0) {
        space = space.withDimension(e.dimension());
      } else if (e.dimension() != space.dimension()) {
        throw new InvalidInputException(
            "dimension %d does not match embedder '%s', which makes %d-d vectors: send %d or 0"
                .formatted(space.dimension(), space.embedder(), e.dimension(), e.dimension()));
      }
    }
    // Serialised so that concurrent creates cannot pass the space limit together; creating a space
    // is rare and already writes to the store.
    synchronized (spaceCreation) {
      if (spaces.find(space.id()) == null) {
        config.limits().checkNewSpace(spaces.list().size());
      }
      return (store == null ? spaces.create(space) : store.createSpace(spaces, space)).info();
    }
  }

  /**
   * Reports that a call through {@code door} failed with {@code problem}: its status, and the limit
   * it hit if it is a {@link LimitRefusal}. Doors call it for failures of unary calls.
   */
  public void failed(Door door, EngramException problem) {
    config.events().failed(door, StatusCode.of(problem));
    if (problem instanceof LimitRefusal refusal) {
      config.events().limitRefused(door, refusal.limit());
    }
  }

  /** Reports a refusal at {@code limit} that a transport made itself (its framing limits). */
  public void limitRefused(Door door, Limit limit) {
    config.events().limitRefused(door, limit);
  }

  /** The space itself, for tools, tests and benchmarks that look inside (graph, text tail). */
  public MemorySpace space(SpaceId id) {
    return spaces.get(id);
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
    return remember(door, id, episodes, Principal.UNRESTRICTED);
  }

  /**
   * As {@link #remember(Door, SpaceId, List)}, for {@code caller}, whose token's rate ({@code
   * --token-rate}) the batch is taken from.
   */
  public Acceptor.Remembered remember(
      Door door, SpaceId id, List<Episode> episodes, Principal caller) {
    refuseIfShuttingDown();
    config.limits().checkBatch(episodes.size());
    return acceptor.remember(
        spaces.get(id), episodes, "r-" + UUID.randomUUID(), door, sessions.quotas().bucket(caller));
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
    List<String> all = space.withAliases(ids); // a memory goes with its merged near-duplicates
    return store == null ? space.forget(all) : store.forget(space, all);
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

  /**
   * A new stream on {@code door} whose transport carried {@code authorization} (null if none; the
   * init message may carry it instead). The stream is checked at init (any right in its space),
   * each observation needs {@code WRITE} and each recall {@code READ}.
   */
  public StreamConnection connect(Door door, SessionOutput output, String authorization) {
    return sessions.connect(door, output, auth, authorization);
  }

  public IngestStats ingestStats() {
    return queue.stats();
  }

  /**
   * Text-only episodes accepted and waiting to be embedded (they also count in the queue depth).
   */
  public int embedBacklog() {
    return embeds.backlog();
  }

  /** The names of the server-side embedders spaces may use. */
  public java.util.Set<String> embedders() {
    return config.embedders().names();
  }

  /** The message and batch limits the doors apply and advertise. */
  public MessageLimits limits() {
    return config.limits();
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
    if (embeds != null) {
      embeds.close();
    }
    queue.close();
    if (consolidator != null) {
      consolidator.close();
    }
    if (store != null) {
      store.close(); // final graph snapshots, flush, unlock
    }
    audit.close();
    spaces.list().forEach(MemorySpace::closeText);
    textRefresh.shutdown(); // a running refresh finished: close waited for it
  }

  private void refuseIfShuttingDown() {
    if (shuttingDown) {
      throw new UnavailableException("server is shutting down");
    }
  }
}
