package dev.engram.core.storage;

import com.github.benmanes.caffeine.cache.Cache;
import dev.engram.core.auth.TokenStore;
import dev.engram.core.consolidate.AssociationSink;
import dev.engram.core.consolidate.Associations;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.ingest.EmbedRecorder;
import dev.engram.core.ingest.QuarantineRecorder;
import dev.engram.core.model.Episode;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.space.Payload;
import dev.engram.core.space.SpaceRegistry;
import dev.engram.core.storage.Codec.StoredQuarantine;
import dev.engram.core.storage.Codec.StoredSession;
import dev.engram.core.storage.Codec.StoredSpace;
import dev.engram.core.telemetry.EngineEvents;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.rocksdb.RocksDBException;

/**
 * The engine's durable state: RocksDB for spaces, episodes and session progress, graph snapshot
 * files for the vector indexes, and the recovery that puts both back together on start.
 *
 * <p>Data directory: {@code LOCK} (held while running), {@code rocksdb/} (the database, with its
 * write-ahead log), {@code graphs/<incarnation>.graph} and {@code .meta} (the latest snapshot of
 * each space's vector index, and what it covers).
 *
 * <p>Space incarnations: each created space gets a never-reused 64-bit number that prefixes its
 * episode keys, so deleting a space is one range delete, and a write racing the delete lands under
 * a dead number that recovery ignores (and removes) instead of resurrecting it in a new space of
 * the same name.
 *
 * <p>Memory: {@link MemorySpace} keeps per episode only its id, time and confidence (rebuilt on
 * recovery), and each vector once (the index). Content and metadata are read back from the episode
 * records ({@link StoredPayloads}) through one Caffeine cache bounded by {@link
 * StorageConfig#payloadCacheBytes} for all spaces: a recall reads the {@code k} payloads it
 * returns, a metadata filter those of the candidates it tests.
 *
 * <p>Recovery order ({@link #recover}): read space definitions; load each space's graph snapshot (a
 * missing or corrupt one is logged and the graph is rebuilt); scan every episode into memory under
 * its stored ordinal, keeping those with a quarantine marker out of the graph (each is logged by
 * id); remove from the graph what the store no longer has (forgotten after the snapshot, or never
 * committed); index, in parallel, what the graph lacks (accepted after the snapshot), supervised:
 * an episode whose insert throws is retried once, then quarantined, never aborting startup; restore
 * sessions. The server starts listening only after this. A text-only episode stored without a
 * vector (its embedding was not written before the stop) stays out of the graph; the engine embeds
 * it again ({@link #embedded} stores the vector once made).
 *
 * <p>Quarantine: an episode the supervisor quarantined keeps its record in {@code episodes} (it was
 * acknowledged) and gets a marker in {@code quarantine} under the same key, written and synced when
 * it is quarantined ({@link #quarantined}); forgetting the episode or deleting its space removes
 * the marker, and recovery deletes markers whose episode is gone.
 *
 * <p>Concurrency: space create/delete and recovery are serialised by {@link #spacesLock}; per-space
 * state is in a {@link ConcurrentHashMap} read lock-free on the accept path. Snapshots run on one
 * scheduled thread (and at close) under {@link #snapshotLock}.
 */
public final class DurableStore
    implements Journal,
        QuarantineRecorder,
        EmbedRecorder,
        TokenStore.Records,
        AssociationSink,
        AutoCloseable {
  private static final System.Logger LOG = System.getLogger(DurableStore.class.getName());

  private final StorageConfig config;
  private final EpisodeStore kv;
  private final GroupCommitter committer;
  private final InstantSource clock;
  private final Function<SpaceConfig, VectorIndex> baseFactory;
  private final Path graphs;
  private final ConcurrentHashMap<MemorySpace, SpaceState> states = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<SpaceId, SnapshotGuard> recoveredGuards =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<SpaceId, SnapshotGuard> madeGuards = new ConcurrentHashMap<>();
  private final Object spacesLock = new Object();
  private final Object snapshotLock = new Object();
  private volatile EngineEvents events = EngineEvents.NONE;
  private final ScheduledExecutorService snapshotter;
  private final Cache<StoredPayloads.Key, Payload> payloadCache;
  private long nextIncarnation; // guarded by spacesLock
  private boolean closed; // guarded by snapshotLock

  /**
   * One space's durable identity and snapshot bookkeeping.
   *
   * @param incarnation the key prefix of its episodes
   * @param guard its index, wrapped for snapshots
   * @param snapshotChanges the guard's change count at the last snapshot
   */
  record SpaceState(long incarnation, SnapshotGuard guard, AtomicReference<Long> snapshotChanges) {}

  /** Restores one session on recovery. */
  @FunctionalInterface
  public interface SessionRestorer {
    void restore(String sessionId, MemorySpace space, long nextSequence);
  }

  /** What recovery found, for logs and benchmarks. */
  public record Recovered(
      int spaces,
      long episodes,
      long reindexed,
      int snapshotsLoaded,
      int sessions,
      long millis,
      int quarantined) {}

  private DurableStore(
      StorageConfig config,
      EpisodeStore kv,
      InstantSource clock,
      Function<SpaceConfig, VectorIndex> baseFactory) {
    this.config = config;
    this.kv = kv;
    this.clock = clock;
    this.baseFactory = baseFactory;
    this.graphs = config.dataDir().resolve("graphs");
    this.committer =
        new GroupCommitter(
            kv, config.fsync(), config.syncInterval(), config.faults(), config.writeTimeout());
    this.snapshotter =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("engram-snapshot").daemon().factory());
    this.payloadCache = StoredPayloads.cache(config.payloadCacheBytes());
  }

  /**
   * Locks the data directory and opens the store. Call {@link #recover} next.
   *
   * @param indexFactory makes an empty index for a space (wrapped by {@link #indexFactory})
   * @throws DataDirectoryInUseException if another server holds the directory
   */
  public static DurableStore open(
      StorageConfig config, Function<SpaceConfig, VectorIndex> indexFactory, InstantSource clock) {
    EpisodeStore kv = EpisodeStore.open(config.dataDir());
    try {
      Files.createDirectories(config.dataDir().resolve("graphs"));
    } catch (IOException e) {
      kv.close();
      throw new StorageFailedException("cannot create the graphs directory: " + e);
    }
    return new DurableStore(config, kv, clock, indexFactory);
  }

  /** The index factory the space registry must use: recovered graphs, or new ones, guarded. */
  public Function<SpaceConfig, VectorIndex> indexFactory() {
    return spaceConfig -> {
      SnapshotGuard guard = recoveredGuards.remove(spaceConfig.id());
      if (guard == null) {
        guard = new SnapshotGuard(baseFactory.apply(spaceConfig), 0);
      }
      madeGuards.put(spaceConfig.id(), guard);
      return guard;
    };
  }

  @Override
  public WriteSet begin() {
    return new WriteSet(this, committer.begin());
  }

  public FsyncPolicy fsync() {
    return config.fsync();
  }

  // ---- spaces and forgets ----

  /**
   * Creates a space durably (idempotent like {@link SpaceRegistry#create}). The space becomes
   * visible in the registry only after its definition is durable and its state is recorded, so
   * every write that can reach it is logged under its incarnation.
   */
  public MemorySpace createSpace(SpaceRegistry registry, SpaceConfig spaceConfig) {
    synchronized (spacesLock) {
      if (registry.find(spaceConfig.id()) != null) {
        return registry.create(spaceConfig); // the existing space, or AlreadyExists
      }
      long incarnation = nextIncarnation++; // never reused, even if the write below fails
      MemorySpace space = registry.prepare(spaceConfig, payloads(incarnation));
      SnapshotGuard guard = madeGuards.remove(spaceConfig.id());
      try (WriteSet writes = begin()) {
        writes.put(
            kv.spaces,
            Codec.utf8(spaceConfig.id().value()),
            Codec.spaceValue(spaceConfig, incarnation));
        writes.put(kv.meta, Codec.NEXT_INCARNATION, Codec.longBytes(nextIncarnation));
        writes.commit();
      }
      states.put(space, new SpaceState(incarnation, guard, new AtomicReference<>(0L)));
      return registry.publish(space);
    }
  }

  /**
   * Deletes a space durably, then from memory.
   *
   * @return the deleted space, so its streams can be ended
   */
  public MemorySpace deleteSpace(SpaceRegistry registry, SpaceId id) {
    synchronized (spacesLock) {
      MemorySpace space = registry.get(id);
      SpaceState state = stateOf(space);
      try (WriteSet writes = begin()) {
        writes.delete(kv.spaces, Codec.utf8(id.value()));
        writes.deleteRange(
            kv.episodes,
            Codec.episodePrefix(state.incarnation()),
            Codec.episodePrefixEnd(state.incarnation()));
        writes.deleteRange(
            kv.quarantine,
            Codec.episodePrefix(state.incarnation()),
            Codec.episodePrefixEnd(state.incarnation()));
        writes.deleteRange(
            kv.associations,
            Codec.episodePrefix(state.incarnation()),
            Codec.episodePrefixEnd(state.incarnation()));
        writes.commit();
      }
      // Marked deleted before its state goes: see stateOf.
      registry.delete(id);
      states.remove(space);
      payloadCache.asMap().keySet().removeIf(k -> k.incarnation() == state.incarnation());
      synchronized (snapshotLock) {
        deleteSnapshot(state.incarnation());
      }
      return space;
    }
  }

  /**
   * Forgets episodes durably, then from memory; returns how many were stored. Serialised with
   * {@link #embedded} per space, so an embedded vector written late cannot bring a forgotten
   * episode back.
   */
  public int forget(MemorySpace space, Collection<String> ids) {
    SpaceState state = states.get(space);
    if (state == null) {
      return space.forget(ids);
    }
    synchronized (state) {
      try (WriteSet writes = begin()) {
        for (String id : ids) {
          writes.forgotten(state.incarnation(), id);
          writes.delete(kv.quarantine, Codec.episodeKey(state.incarnation(), id));
          writes.delete(kv.associations, Codec.episodeKey(state.incarnation(), id));
        }
        writes.commit();
      }
      return space.forget(ids);
    }
  }

  /**
   * Stores the vector the embed stage made for a text-only episode (not synced: a lost one is
   * embedded again at the next start), unless the episode was forgotten meanwhile.
   */
  @Override
  public void embedded(MemorySpace space, int ordinal, Episode episode) {
    SpaceState state = states.get(space);
    if (state == null) {
      return; // the space was deleted meanwhile
    }
    synchronized (state) {
      if (!space.isStored(ordinal)) {
        return; // forgotten: its delete is already written
      }
      try (WriteSet writes = begin()) {
        writes.put(
            kv.episodes,
            Codec.episodeKey(state.incarnation(), episode.id()),
            Codec.episodeValue(ordinal, episode));
        writes.commit();
      }
    }
  }

  /**
   * Records durably (the log is synced unless fsync is {@code never}) that an episode is
   * quarantined, so that recovery keeps it stored but out of the index. Called by the supervisor.
   */
  @Override
  public void quarantined(MemorySpace space, int ordinal, String episodeId, String reason) {
    SpaceState state = states.get(space);
    if (state == null) {
      return; // the space was deleted meanwhile
    }
    try (WriteSet writes = begin()) {
      writes.put(
          kv.quarantine,
          Codec.episodeKey(state.incarnation(), episodeId),
          Codec.quarantineValue(ordinal, reason));
      writes.commit();
    }
    try {
      committer.sync();
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("syncing a quarantine", e);
    }
  }

  /** A space incarnation's payloads: its episode records, through the shared cache. */
  private StoredPayloads payloads(long incarnation) {
    return new StoredPayloads(kv, incarnation, payloadCache);
  }

  /** The payload cache's size, hits and misses (metrics). */
  public PayloadCacheStats payloadCacheStats() {
    payloadCache.cleanUp(); // pending weight changes, so the size is current
    var stats = payloadCache.stats();
    long bytes = payloadCache.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
    return new PayloadCacheStats(
        bytes, config.payloadCacheBytes(), stats.hitCount(), stats.missCount());
  }

  // ---- tokens (core.auth.TokenStore's records: salted hashes, never secrets) ----

  @Override
  public Map<String, byte[]> loadTokens() {
    return kv.tokens();
  }

  @Override
  public void putToken(String id, byte[] record) {
    writeToken(id, record);
  }

  @Override
  public void removeToken(String id) {
    writeToken(id, null);
  }

  private void writeToken(String id, byte[] record) {
    try {
      kv.writeToken(id, record, config.fsync() != FsyncPolicy.NEVER);
    } catch (RocksDBException e) {
      throw EpisodeStore.failure("writing a token record", e);
    }
  }

  // ---- recovery ----

  /**
   * Rebuilds spaces, episodes, graphs and sessions from the data directory into an empty registry.
   * Call once, before serving; then snapshots start.
   */
  public Recovered recover(
      SpaceRegistry registry, SessionRestorer sessions, int maxSessions, int indexThreads) {
    long start = System.nanoTime();
    synchronized (spacesLock) {
      Map<Long, MemorySpace> byIncarnation = new HashMap<>();
      int snapshotsLoaded = 0;
      try {
        nextIncarnation = kv.nextIncarnation();
      } catch (RocksDBException e) {
        throw EpisodeStore.failure("reading the store", e);
      }
      for (StoredSpace stored : kv.spaces()) {
        SnapshotGuard loaded = loadSnapshot(stored);
        if (loaded != null) {
          recoveredGuards.put(stored.config().id(), loaded);
          snapshotsLoaded++;
        }
        MemorySpace space = registry.prepare(stored.config(), payloads(stored.incarnation()));
        SnapshotGuard guard = madeGuards.remove(stored.config().id());
        states.put(
            space,
            new SpaceState(stored.incarnation(), guard, new AtomicReference<>(guard.changes())));
        registry.publish(space);
        byIncarnation.put(stored.incarnation(), space);
        nextIncarnation = Math.max(nextIncarnation, stored.incarnation() + 1);
      }
      Map<Long, Map<String, StoredQuarantine>> markers = new HashMap<>();
      for (StoredQuarantine q : kv.quarantined()) {
        markers.computeIfAbsent(q.incarnation(), i -> new HashMap<>()).put(q.id(), q);
      }
      List<StoredQuarantine> applied = new ArrayList<>();
      Map<MemorySpace, BitSet> present = new HashMap<>();
      Map<MemorySpace, List<Integer>> missing = new HashMap<>();
      Map<MemorySpace, Integer> limits = new HashMap<>();
      Set<Long> orphans = new HashSet<>();
      long[] episodes = {0};
      kv.forEachEpisode(
          e -> {
            MemorySpace space = byIncarnation.get(e.incarnation());
            if (space == null) {
              orphans.add(e.incarnation());
              return;
            }
            present.computeIfAbsent(space, s -> new BitSet()).set(e.ordinal());
            limits.merge(space, e.ordinal() + 1, Math::max);
            StoredQuarantine marker =
                markers.getOrDefault(e.incarnation(), Map.of()).get(e.episode().id());
            if (marker != null && marker.ordinal() == e.ordinal()) {
              space.restoreQuarantined(
                  e.ordinal(), e.episode(), marker.reason()); // not in the graph
              applied.add(marker);
              episodes[0]++;
              return;
            }
            SnapshotGuard guard = states.get(space).guard();
            boolean indexed = guard.contains(e.ordinal());
            space.restore(e.ordinal(), e.episode(), indexed);
            if (!indexed && e.episode().embedding().length > 0) { // text only: re-embedded
              missing.computeIfAbsent(space, s -> new ArrayList<>()).add(e.ordinal());
            }
            episodes[0]++;
          });
      removeStaleMarkers(markers, applied);
      for (StoredQuarantine q : applied) {
        LOG.log(
            Level.WARNING,
            "space %s: episode '%s' is quarantined (%s); it is stored but not indexed until forgotten"
                .formatted(byIncarnation.get(q.incarnation()).config().id(), q.id(), q.reason()));
      }
      int quarantined = applied.size();
      // The graph first: a near-duplicate merged into another memory left the index (a removed
      // node in the snapshot, or never indexed) and must not be indexed again below.
      restoreAssociations(byIncarnation);
      long reindexed = 0;
      for (MemorySpace space : byIncarnation.values()) {
        SnapshotGuard guard = states.get(space).guard();
        BitSet stored = present.getOrDefault(space, new BitSet());
        int stale = 0;
        for (int o = 0; o < guard.ordinalLimit(); o++) {
          if (guard.contains(o) && !stored.get(o)) {
            guard.remove(o);
            stale++;
          }
        }
        if (stale > 0) {
          LOG.log(
              Level.INFO,
              "space %s: removed %d graph nodes the store no longer holds"
                  .formatted(space.config().id(), stale));
        }
        space.reserveOrdinalsBelow(Math.max(guard.ordinalLimit(), limits.getOrDefault(space, 0)));
        space.finishRestore(); // the text index, rebuilt from the stored episodes
        List<Integer> toIndex = missing.getOrDefault(space, List.of());
        reindexed += toIndex.size();
        quarantined += indexAll(space, toIndex, indexThreads);
      }
      int restoredSessions = restoreSessions(byIncarnation, sessions, maxSessions);
      removeOrphans(orphans);
      long millis = (System.nanoTime() - start) / 1_000_000;
      Recovered recovered =
          new Recovered(
              byIncarnation.size(),
              episodes[0],
              reindexed,
              snapshotsLoaded,
              restoredSessions,
              millis,
              quarantined);
      LOG.log(
          Level.INFO,
          "recovered %d spaces, %d episodes (%d indexed from the store, %d graph snapshots"
                  .formatted(
                      recovered.spaces(),
                      recovered.episodes(),
                      recovered.reindexed(),
                      recovered.snapshotsLoaded())
              + ", %d sessions, %d quarantined) in %d ms"
                  .formatted(recovered.sessions(), quarantined, millis));
      long period = config.snapshotInterval().toNanos();
      snapshotter.scheduleWithFixedDelay(
          () -> snapshotAll(false), period, period, TimeUnit.NANOSECONDS);
      return recovered;
    }
  }

  private SnapshotGuard loadSnapshot(StoredSpace stored) {
    Path meta = graphs.resolve(stored.incarnation() + ".meta");
    Path graph = graphs.resolve(stored.incarnation() + ".graph");
    SpaceId id = stored.config().id();
    if (!Files.exists(meta) || !Files.exists(graph)) {
      LOG.log(
          Level.INFO,
          "space %s: no graph snapshot; rebuilding the index from the store".formatted(id));
      return null;
    }
    try {
      Properties p = new Properties();
      try (var in = Files.newBufferedReader(meta, StandardCharsets.UTF_8)) {
        p.load(in);
      }
      String kind = p.getProperty("kind");
      int limit = Integer.parseInt(p.getProperty("ordinalLimit", "x"));
      VectorIndex fresh = baseFactory.apply(stored.config());
      if (kind == null || !kind.equals(config.snapshots().kind(fresh))) {
        LOG.log(
            Level.WARNING,
            "space %s: graph snapshot is of kind %s, the server now uses %s; rebuilding"
                .formatted(id, kind, config.snapshots().kind(fresh)));
        return null;
      }
      VectorIndex index = config.snapshots().load(kind, graph);
      if (index.dimension() != stored.config().dimension()
          || index.metric() != stored.config().metric()) {
        LOG.log(
            Level.WARNING,
            "space %s: graph snapshot %s does not match the space's dimension or metric; rebuilding"
                .formatted(id, graph));
        return null;
      }
      return new SnapshotGuard(index, limit);
    } catch (IOException | RuntimeException e) {
      LOG.log(
          Level.WARNING,
          "space %s: graph snapshot %s is unreadable (%s); rebuilding the index from the store"
              .formatted(id, graph, e.getMessage()));
      return null;
    }
  }

  /**
   * Indexes what the recovered graph lacks, on {@code threads} threads, supervised like the index
   * workers: an episode whose insert throws is retried once, then quarantined (durably, and
   * logged), so one poison episode cannot abort startup.
   *
   * @return how many episodes were quarantined
   */
  private int indexAll(MemorySpace space, List<Integer> ordinals, int threads) {
    if (ordinals.isEmpty()) {
      return 0;
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger quarantined = new AtomicInteger();
    Runnable work =
        () -> {
          int i;
          while ((i = next.getAndIncrement()) < ordinals.size()) {
            if (!indexSupervised(space, ordinals.get(i))) {
              quarantined.incrementAndGet();
            }
          }
        };
    List<Thread> pool = new ArrayList<>();
    for (int t = 0; t < Math.max(1, threads); t++) {
      pool.add(Thread.ofPlatform().name("engram-recovery-" + t).start(work));
    }
    for (Thread t : pool) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new StorageFailedException("interrupted while rebuilding the index");
      }
    }
    return quarantined.get();
  }

  /** Indexes one episode, retrying once; false if it failed twice and was quarantined. */
  private boolean indexSupervised(MemorySpace space, int ordinal) {
    Throwable failure = null;
    for (int attempt = 1; attempt <= 2; attempt++) {
      try {
        space.index(ordinal);
        return true;
      } catch (Throwable e) { // anything that would kill an index worker
        failure = e;
        String id = space.episodeId(ordinal);
        if (attempt == 1) {
          LOG.log(
              Level.WARNING,
              "space %s: indexing episode '%s' during recovery failed; retrying it"
                  .formatted(space.config().id(), id),
              e);
        }
      }
    }
    String id = space.episodeId(ordinal);
    String reason =
        "episode quarantined: indexing it failed twice during recovery (%s)".formatted(failure);
    LOG.log(
        Level.ERROR,
        "space %s: indexing episode '%s' during recovery failed twice; quarantined it"
            .formatted(space.config().id(), id),
        failure);
    if (space.quarantine(ordinal, reason)) {
      quarantined(space, ordinal, id, reason);
    }
    return false;
  }

  /**
   * Puts back each space's association graph; a record whose episode is gone (forgotten, or its id
   * stored again under a new ordinal) is deleted, edges to episodes that are gone are dropped, and
   * merged near-duplicates leave the index again.
   */
  private void restoreAssociations(Map<Long, MemorySpace> byIncarnation) {
    List<Codec.StoredNode> nodes = new ArrayList<>();
    try (WriteSet stale = begin()) {
      kv.forEachNode(
          n -> {
            MemorySpace space = byIncarnation.get(n.incarnation());
            if (space != null && space.ordinalOf(n.id()) == n.ordinal()) {
              nodes.add(n);
            } else {
              stale.delete(kv.associations, Codec.episodeKey(n.incarnation(), n.id()));
            }
          });
      stale.commit();
    }
    for (Codec.StoredNode n : nodes) {
      MemorySpace space = byIncarnation.get(n.incarnation());
      space.associations().restore(n.ordinal(), n.node(), space::isStored);
    }
    for (Codec.StoredNode n : nodes) {
      MemorySpace space = byIncarnation.get(n.incarnation());
      Associations.Node node = space.associations().node(n.ordinal());
      if (node != null && node.mergedInto() >= 0) {
        space.unindex(n.ordinal());
      }
    }
  }

  /**
   * Writes the current association nodes of {@code ordinals} (deleting the records of those that
   * have none) as one batch. Called by the consolidation worker, never on the ack path.
   */
  @Override
  public void persist(MemorySpace space, Collection<Integer> ordinals) {
    SpaceState state = states.get(space);
    if (state == null) {
      return; // deleted meanwhile
    }
    try (WriteSet writes = begin()) {
      for (int ordinal : ordinals) {
        var episode = space.head(ordinal);
        if (episode == null) {
          continue; // forgotten: its forget deleted the record
        }
        byte[] key = Codec.episodeKey(state.incarnation(), episode.id());
        Associations.Node node = space.associations().node(ordinal);
        if (node == null) {
          writes.delete(kv.associations, key);
        } else {
          writes.put(kv.associations, key, Codec.nodeValue(ordinal, node));
        }
      }
      writes.commit();
    }
  }

  /** Deletes quarantine markers whose episode is gone (forgotten, or stored again anew). */
  private void removeStaleMarkers(
      Map<Long, Map<String, StoredQuarantine>> markers, List<StoredQuarantine> applied) {
    Set<StoredQuarantine> live = new HashSet<>(applied);
    try (WriteSet writes = begin()) {
      for (Map<String, StoredQuarantine> bySpace : markers.values()) {
        for (StoredQuarantine q : bySpace.values()) {
          if (!live.contains(q)) {
            writes.delete(kv.quarantine, Codec.episodeKey(q.incarnation(), q.id()));
          }
        }
      }
      writes.commit();
    }
  }

  private int restoreSessions(
      Map<Long, MemorySpace> byIncarnation, SessionRestorer restorer, int maxSessions) {
    List<StoredSession> stored = new ArrayList<>(kv.sessions());
    stored.sort(Comparator.comparingLong(StoredSession::updatedMillis).reversed());
    int restored = 0;
    try (WriteSet stale = begin()) {
      for (StoredSession s : stored) {
        MemorySpace space = byIncarnation.get(s.incarnation());
        if (space != null && restored < maxSessions) {
          restorer.restore(s.id(), space, s.lastSequence() + 1);
          restored++;
        } else {
          stale.delete(kv.sessions, Codec.utf8(s.id()));
        }
      }
      stale.commit();
    }
    return restored;
  }

  private void removeOrphans(Set<Long> orphans) {
    try (WriteSet writes = begin()) {
      for (long incarnation : orphans) {
        writes.deleteRange(
            kv.episodes, Codec.episodePrefix(incarnation), Codec.episodePrefixEnd(incarnation));
        writes.deleteRange(
            kv.quarantine, Codec.episodePrefix(incarnation), Codec.episodePrefixEnd(incarnation));
        writes.deleteRange(
            kv.associations, Codec.episodePrefix(incarnation), Codec.episodePrefixEnd(incarnation));
        deleteSnapshot(incarnation);
      }
      writes.commit();
    }
    try (var files = Files.list(graphs)) {
      Set<String> live = new HashSet<>();
      for (SpaceState s : states.values()) {
        live.add(Long.toString(s.incarnation()));
      }
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        String stem = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
        if (!live.contains(stem)) {
          Files.deleteIfExists(f);
        }
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not clean the graphs directory: " + e);
    }
  }

  // ---- snapshots ----

  /**
   * Snapshots every space's graph that changed since its last snapshot ({@code force}: every
   * space). Failures are logged; the previous snapshot stays.
   */
  public void snapshotAll(boolean force) {
    synchronized (snapshotLock) {
      if (closed) {
        return;
      }
      for (Map.Entry<MemorySpace, SpaceState> e : states.entrySet()) {
        SpaceState state = e.getValue();
        SnapshotGuard guard = state.guard();
        if (guard == null || (!force && guard.changes() == state.snapshotChanges().get())) {
          continue;
        }
        String kind = config.snapshots().kind(guard.delegate());
        if (kind == null) {
          continue;
        }
        try {
          long t0 = System.nanoTime();
          // Sync the log first: the graph must never cover an episode the store could lose.
          committer.sync();
          Path graph = graphs.resolve(state.incarnation() + ".graph");
          SnapshotGuard.Covered covered = guard.snapshot(config.snapshots(), graph);
          writeMeta(state.incarnation(), kind, covered);
          state.snapshotChanges().set(covered.changes());
          long took = System.nanoTime() - t0;
          events.snapshotted(took, true);
          long ms = took / 1_000_000;
          LOG.log(
              Level.INFO,
              "space %s: graph snapshot of %d vectors below ordinal %d written in %d ms"
                  .formatted(e.getKey().config().id(), covered.size(), covered.ordinalLimit(), ms));
        } catch (IOException | RocksDBException | RuntimeException ex) {
          events.snapshotted(0, false);
          LOG.log(
              Level.WARNING,
              "space %s: graph snapshot failed (%s); keeping the previous one"
                  .formatted(e.getKey().config().id(), ex));
        }
      }
    }
  }

  private void writeMeta(long incarnation, String kind, SnapshotGuard.Covered covered)
      throws IOException {
    Path meta = graphs.resolve(incarnation + ".meta");
    Path tmp = graphs.resolve(incarnation + ".meta.tmp");
    String text =
        "kind=%s%nordinalLimit=%d%nsize=%d%n"
            .formatted(kind, covered.ordinalLimit(), covered.size());
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
    }
    Files.move(tmp, meta, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private void deleteSnapshot(long incarnation) {
    try {
      Files.deleteIfExists(graphs.resolve(incarnation + ".meta"));
      Files.deleteIfExists(graphs.resolve(incarnation + ".graph"));
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not delete graph snapshot " + incarnation + ": " + e);
    }
  }

  // ---- plumbing ----

  /**
   * The store's size for metrics, or null once it is closed. Reads RocksDB properties and lists the
   * log files: call it at scrape time, not on a hot path.
   */
  public StorageStats stats() {
    synchronized (snapshotLock) {
      if (closed) {
        return null;
      }
      return new StorageStats(
          kv.longProperty("rocksdb.estimate-live-data-size"),
          kv.walBytes(),
          kv.longProperty("rocksdb.estimate-pending-compaction-bytes"),
          kv.diskBytes(),
          kv.freeBytes(),
          kv.totalBytes());
    }
  }

  /** Where commits and snapshots are reported; set once by the engine before serving. */
  public void listen(EngineEvents events) {
    this.events = java.util.Objects.requireNonNull(events, "events");
  }

  EngineEvents events() {
    return events;
  }

  /** Bytes the database occupies on disk (for benchmarks). */
  public long diskBytes() {
    return kv.diskBytes();
  }

  /** The data directory. */
  public Path dataDir() {
    return config.dataDir();
  }

  /**
   * The durable state of a space, or null if the space was deleted. Null means only that: a space
   * is published in the registry after its state exists ({@link #createSpace}, {@link #recover}),
   * and is marked deleted before its state is removed ({@link #deleteSpace}).
   *
   * @throws IllegalStateException for a space that was never defined in this store (a bug)
   */
  SpaceState stateOf(MemorySpace space) {
    SpaceState state = states.get(space);
    if (state == null && !space.isDeleted()) {
      throw new IllegalStateException(
          "space %s has no durable state and is not deleted".formatted(space.config().id()));
    }
    return state;
  }

  EpisodeStore kv() {
    return kv;
  }

  StorageFaults faults() {
    return config.faults();
  }

  GroupCommitter committer() {
    return committer;
  }

  long nowMillis() {
    return clock.millis();
  }

  /**
   * Final snapshot of changed graphs (the caller has stopped indexing), flush, release the lock.
   * Writes after this fail with {@code UNAVAILABLE}.
   */
  @Override
  public void close() {
    snapshotter.shutdownNow();
    try {
      snapshotter.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    snapshotAll(false);
    synchronized (snapshotLock) {
      closed = true;
    }
    if (!committer.stop()) {
      // A write or WAL sync still running inside RocksDB: closing the database under it would
      // crash the process. Leave it open (its lock with it); the log replays at the next start.
      LOG.log(
          Level.ERROR,
          "the store's writer did not stop within 30 s; leaving the database open (the log"
              + " replays on start)");
      return;
    }
    try {
      kv.flush();
    } catch (RocksDBException e) {
      LOG.log(Level.WARNING, "flushing the store on close failed (the log replays on start): " + e);
    }
    kv.close();
  }
}
