package dev.engram.core.space;

import dev.engram.core.consolidate.Associations;
import dev.engram.core.index.SearchHit;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.QuarantinedEpisode;
import dev.engram.core.model.RecallFilter;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.model.SpaceStats;
import dev.engram.core.text.TextHit;
import dev.engram.core.text.TextIndex;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/**
 * One memory space: its episodes, the id map that makes observations idempotent, the fresh segment
 * of accepted-but-unindexed episodes, the vector index and the text index.
 *
 * <p>Pipeline: {@link #reserve} claims an episode's id and ordinal; once the episode is durable,
 * {@link #publish} stores it and puts it in the fresh segment (it is recallable from then on), or
 * {@link #withdraw} gives the claim up if its write failed ({@link #admit} does both steps at once
 * when there is no store). An index worker later calls {@link #index}, which inserts it into the
 * vector index and only then removes it from the fresh segment. {@link #recall} searches both and
 * merges by ordinal. The {@link TextIndex} is fed where the fresh segment is ({@link #publish},
 * {@link #restore}) and emptied where it is (forget, drop, quarantine), so content is searchable by
 * text from the same moment as the vector.
 *
 * <p>Quarantine: an episode whose indexing failed twice stays stored (readable by id, its id taken)
 * but leaves the fresh segment and the index for good: {@link #quarantine}, {@link #quarantined}.
 *
 * <p>Memory: one copy of each vector, and no payloads on the heap. Per stored episode the space
 * keeps an {@link EpisodeHead} (id, observed_at, confidence) and the id's entry in the id map. The
 * vector is in the fresh segment until it is indexed, then only in the index ({@link
 * VectorIndex#vector} reads it back; for cosine spaces that is the unit vector the validator
 * stored). Content and metadata are in {@link Payloads}: the store's record behind a bounded cache
 * when there is a store, a map otherwise. A quarantined or merged episode, which leaves the index,
 * keeps its vector in a small side map so that it still reads back whole.
 *
 * <p>Concurrency: lock-free. Ordinals come from an atomic counter; the id map's {@code putIfAbsent}
 * decides which of two concurrent admissions of one id wins, so an id is never stored twice. Forget
 * and index may race: each removes from the index after its own write, so a forgotten episode never
 * stays searchable. Impossible outcomes: one id under two ordinals; an accepted, unforgotten
 * episode missing from both the fresh segment and the index.
 */
public final class MemorySpace {
  private final SpaceConfig config;
  private final VectorIndex index;
  private final int efSearch;
  private final FreshSegment fresh;
  private final TextIndex text;
  private final ConcurrentHashMap<String, Integer> ordinalsById = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, EpisodeHead> episodes = new ConcurrentHashMap<>();
  private final Payloads payloads;
  // vectors of stored episodes that left the index for good (quarantined, merged): the only copy
  private final ConcurrentHashMap<Integer, float[]> parked = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, String> quarantined = new ConcurrentHashMap<>();
  private final AtomicInteger nextOrdinal = new AtomicInteger();
  private final Associations associations;
  private volatile boolean deleted;

  /**
   * @param config the space's definition
   * @param index an empty index of the space's dimension and metric
   * @param efSearch the index search width used for recalls (raised to k when k is larger)
   */
  public MemorySpace(SpaceConfig config, VectorIndex index, int efSearch) {
    this(config, index, efSearch, DefaultTextRefresh.EXECUTOR);
  }

  /**
   * @param config the space's definition
   * @param index an empty index of the space's dimension and metric
   * @param efSearch the index search width used for recalls (raised to k when k is larger)
   * @param textRefresh runs the text index's background refreshes
   */
  public MemorySpace(SpaceConfig config, VectorIndex index, int efSearch, Executor textRefresh) {
    this(config, index, efSearch, textRefresh, Payloads.onHeap());
  }

  /**
   * @param config the space's definition
   * @param index an empty index of the space's dimension and metric
   * @param efSearch the index search width used for recalls (raised to k when k is larger)
   * @param textRefresh runs the text index's background refreshes
   * @param payloads where the episodes' content and metadata are kept
   */
  public MemorySpace(
      SpaceConfig config,
      VectorIndex index,
      int efSearch,
      Executor textRefresh,
      Payloads payloads) {
    if (index.dimension() != config.dimension() || index.metric() != config.metric()) {
      throw new IllegalArgumentException(
          "index (%d, %s) does not match space %s"
              .formatted(index.dimension(), index.metric(), config));
    }
    this.config = config;
    this.index = index;
    this.efSearch = efSearch;
    this.fresh = new FreshSegment(config.metric());
    this.associations = new Associations(config.halfLife());
    this.text = new TextIndex(textRefresh);
    this.payloads = payloads;
  }

  /** The space's association graph and memory strengths (built by consolidation). */
  public Associations associations() {
    return associations;
  }

  /** One daemon thread for spaces built without an engine's executor (tests, tools). */
  private static final class DefaultTextRefresh {
    static final Executor EXECUTOR =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "engram-text-refresh");
              t.setDaemon(true);
              return t;
            });
  }

  public SpaceConfig config() {
    return config;
  }

  /**
   * Stores a validated episode unless its id is already stored: {@link #reserve} and {@link
   * #publish} in one step, for callers with nothing to wait for. After {@code Accepted} returns,
   * the episode is recallable.
   */
  public Admission admit(Episode episode) {
    Admission admission = reserve(episode);
    if (admission instanceof Admission.Accepted accepted) {
      publish(accepted.ordinal(), episode);
    }
    return admission;
  }

  /**
   * Claims the episode's id under a new ordinal unless the id is already stored or claimed. The
   * episode is not visible (to recall, {@link #get}, the counts) until {@link #publish}; {@link
   * #withdraw} gives the id up again. Meanwhile another admission of the id is a {@code Duplicate}.
   */
  public Admission reserve(Episode episode) {
    Integer existing = ordinalsById.get(episode.id());
    if (existing != null) {
      return new Admission.Duplicate(existing, episode.id());
    }
    int ordinal = nextOrdinal.getAndIncrement();
    existing = ordinalsById.putIfAbsent(episode.id(), ordinal);
    if (existing != null) {
      return new Admission.Duplicate(existing, episode.id());
    }
    return new Admission.Accepted(ordinal, episode.id());
  }

  /**
   * Makes a {@linkplain #reserve reserved} episode visible: stored and in the fresh segment. If its
   * id was forgotten while it was reserved, it stays invisible.
   */
  public void publish(int ordinal, Episode episode) {
    payloads.stored(ordinal, episode);
    episodes.put(ordinal, EpisodeHead.of(episode));
    if (episode.embedding().length > 0) {
      fresh.add(ordinal, episode.embedding()); // a text-only one waits for embedded()
    }
    text.add(ordinal, episode);
    Integer current = ordinalsById.get(episode.id());
    if (current == null || current != ordinal) {
      episodes.remove(ordinal); // forgotten while its write was in flight
      fresh.remove(ordinal);
      text.remove(ordinal);
      payloads.removed(ordinal);
    }
  }

  /** Gives up a {@linkplain #reserve reservation} that was never published. */
  public void withdraw(int ordinal, String id) {
    ordinalsById.remove(id, ordinal);
  }

  /**
   * Recovery only, before the space serves: puts back a stored episode under its stored ordinal. An
   * episode the recovered index does not hold yet goes into the fresh segment until it is indexed.
   */
  public void restore(int ordinal, Episode episode, boolean indexed) {
    ordinalsById.put(episode.id(), ordinal);
    payloads.stored(ordinal, episode);
    episodes.put(ordinal, EpisodeHead.of(episode));
    nextOrdinal.accumulateAndGet(ordinal + 1, Math::max);
    if (!indexed && episode.embedding().length > 0) {
      fresh.add(ordinal, episode.embedding());
    }
    text.restore(ordinal, episode);
  }

  /** Recovery only: makes every {@linkplain #restore restored} episode's text searchable. */
  public void finishRestore() {
    text.refreshNow();
  }

  /**
   * Gives a stored text-only episode the vector its embedder produced ({@code episode} is the
   * stored episode with that vector): stored, and in the fresh segment until indexed.
   *
   * @return false if it was forgotten (or quarantined) meanwhile; then nothing changes
   */
  public boolean embedded(int ordinal, Episode episode) {
    EpisodeHead stored = episodes.get(ordinal);
    if (stored == null || quarantined.containsKey(ordinal) || stored.embedded()) {
      return false;
    }
    if (!episodes.replace(ordinal, stored, stored.withVector())) {
      return false; // forgotten meanwhile
    }
    fresh.add(ordinal, episode.embedding());
    if (!episodes.containsKey(ordinal)) {
      fresh.remove(ordinal); // forgotten while we added it
      return false;
    }
    return true;
  }

  /** Whether the episode under {@code ordinal} is stored and still waits for its embedding. */
  public boolean awaitsEmbedding(int ordinal) {
    EpisodeHead stored = episodes.get(ordinal);
    return stored != null && !stored.embedded() && !quarantined.containsKey(ordinal);
  }

  /** Recovery: the ordinals of stored text-only episodes that have no vector yet, ascending. */
  public List<Integer> unembedded() {
    List<Integer> out = new ArrayList<>();
    episodes.forEach(
        (ordinal, e) -> {
          if (!e.embedded() && !quarantined.containsKey(ordinal)) {
            out.add(ordinal);
          }
        });
    out.sort(null);
    return out;
  }

  /** Recovery only: ordinals below {@code limit} (e.g. still in a graph snapshot) stay unused. */
  public void reserveOrdinalsBelow(int limit) {
    nextOrdinal.accumulateAndGet(limit, Math::max);
  }

  /**
   * Inserts an admitted episode into the vector index, then drops it from the fresh segment. Called
   * by index workers. The drop relies on {@link VectorIndex#contains} meaning "searchable": an
   * insert that threw leaves the episode in the fresh segment (still recallable) and absent from
   * the index, so the supervisor's retry inserts it again instead of skipping it.
   */
  public void index(int ordinal) {
    EpisodeHead episode = episodes.get(ordinal);
    if (episode == null || quarantined.containsKey(ordinal) || isMerged(ordinal)) {
      return; // forgotten, dropped, quarantined or merged before it was indexed
    }
    if (!episode.embedded()) {
      return; // text only and not embedded yet: the embed stage indexes it once it is
    }
    if (!index.contains(ordinal)) {
      float[] vector = fresh.get(ordinal);
      if (vector == null) {
        return; // left the fresh segment meanwhile (forgotten, quarantined or merged)
      }
      index.add(ordinal, vector); // the index copies it; the fresh segment drops it below
    }
    fresh.remove(ordinal);
    if (!episodes.containsKey(ordinal)) {
      index.remove(ordinal); // forgotten while we were inserting it
    }
  }

  /**
   * Removes an admitted episode entirely (its write failed): it is no longer stored or recallable.
   */
  public void drop(int ordinal) {
    EpisodeHead episode = episodes.remove(ordinal);
    if (episode != null) {
      ordinalsById.remove(episode.id(), ordinal);
    }
    payloads.removed(ordinal);
    parked.remove(ordinal);
    quarantined.remove(ordinal);
    fresh.remove(ordinal);
    text.remove(ordinal);
    index.remove(ordinal);
  }

  /**
   * Quarantines a stored episode whose indexing failed: it stays stored and its id taken, but it
   * leaves the fresh segment and the index and is never indexed again (until forgotten).
   *
   * @return false if no episode is stored under {@code ordinal} (forgotten meanwhile)
   */
  public boolean quarantine(int ordinal, String reason) {
    if (!episodes.containsKey(ordinal)) {
      return false;
    }
    quarantined.put(ordinal, reason);
    park(ordinal);
    fresh.remove(ordinal);
    text.remove(ordinal);
    index.remove(ordinal);
    if (!episodes.containsKey(ordinal)) {
      quarantined.remove(ordinal); // forgotten while we quarantined it
      parked.remove(ordinal);
      return false;
    }
    return true;
  }

  /**
   * Recovery only: puts back a stored episode that is quarantined (out of the index for good), with
   * its vector kept aside so that it still reads back whole.
   */
  public void restoreQuarantined(int ordinal, Episode episode, String reason) {
    restore(ordinal, episode, true);
    if (episode.embedding().length > 0) {
      parked.put(ordinal, episode.embedding());
    }
    quarantine(ordinal, reason);
  }

  /** Keeps the vector of an episode that is leaving the index for good, before it leaves. */
  private void park(int ordinal) {
    float[] vector = vector(ordinal);
    if (vector != null) {
      parked.putIfAbsent(ordinal, vector);
    }
  }

  /**
   * Takes a near-duplicate that consolidation merged into another memory out of the fresh segment
   * and the index: it stays stored (its id resolves, a resend is a duplicate) and is recalled as an
   * alias of the memory it was merged into.
   */
  public void unindex(int ordinal) {
    park(ordinal);
    fresh.remove(ordinal);
    index.remove(ordinal);
    if (!episodes.containsKey(ordinal)) {
      parked.remove(ordinal); // forgotten meanwhile
    }
  }

  private boolean isMerged(int ordinal) {
    Associations.Node node = associations.node(ordinal);
    return node != null && node.mergedInto() >= 0;
  }

  /**
   * The stored episode under {@code ordinal}, whole (vector from the fresh segment or the index,
   * content and metadata from {@link Payloads}), or null. This reads the payload (a cache or the
   * store) and copies the vector: callers that need only the id, time or confidence use {@link
   * #head}.
   */
  public Episode episodeAt(int ordinal) {
    EpisodeHead head = episodes.get(ordinal);
    return head == null ? null : whole(ordinal, head);
  }

  /** What the space keeps on the heap for the episode under {@code ordinal}, or null. */
  public EpisodeHead head(int ordinal) {
    return episodes.get(ordinal);
  }

  /** Whether an episode is stored under {@code ordinal}. */
  public boolean isStored(int ordinal) {
    return episodes.containsKey(ordinal);
  }

  /**
   * A copy of the vector of the episode under {@code ordinal} (unit length in a cosine space), or
   * null if it has none (forgotten, or text only and not embedded yet).
   */
  public float[] vector(int ordinal) {
    // The fresh segment first: an episode leaves it only after it is in the index.
    float[] waiting = fresh.get(ordinal);
    if (waiting != null) {
      return waiting.clone();
    }
    float[] indexed = index.vector(ordinal);
    if (indexed != null) {
      return indexed;
    }
    float[] aside = parked.get(ordinal);
    return aside == null ? null : aside.clone();
  }

  private static final float[] NO_VECTOR = new float[0];

  private Episode whole(int ordinal, EpisodeHead head) {
    Payload payload = payloads.read(ordinal, head.id());
    if (payload == null) {
      return null; // forgotten meanwhile
    }
    float[] vector = head.embedded() ? vector(ordinal) : null;
    return new Episode(
        head.id(),
        vector == null ? NO_VECTOR : vector,
        payload.content(),
        head.observedAt(),
        head.confidence(),
        payload.metadata(),
        head.sessionId());
  }

  /** The ordinal of the stored episode with this id, or -1. */
  public int ordinalOf(String id) {
    Integer ordinal = ordinalsById.get(id);
    return ordinal == null || !episodes.containsKey(ordinal) ? -1 : ordinal;
  }

  /** Whether the episode under {@code ordinal} is in the vector index (searchable there). */
  public boolean isIndexed(int ordinal) {
    return index.contains(ordinal);
  }

  /** Whether the episode under {@code ordinal} is quarantined. */
  public boolean isQuarantined(int ordinal) {
    return quarantined.containsKey(ordinal);
  }

  /** The ordinals of the stored episodes (a weakly consistent view). */
  public Iterable<Integer> ordinals() {
    return episodes.keySet();
  }

  /**
   * The {@code k} indexed episodes nearest to {@code query} (the index alone, no fresh segment),
   * best first, searching {@code ef} wide: the consolidation worker's neighbour search.
   */
  public List<SearchHit> searchIndex(float[] query, int k, int ef) {
    if (index.size() == 0) {
      return List.of();
    }
    return index.search(query, k, Math.max(ef, k), Float.NEGATIVE_INFINITY, VectorIndex.ALL);
  }

  /** The quarantined episodes, in acceptance order. */
  public List<QuarantinedEpisode> quarantined() {
    List<QuarantinedEpisode> out = new ArrayList<>();
    quarantined.entrySet().stream()
        .sorted(Comparator.comparing(e -> e.getKey()))
        .forEach(
            e -> {
              EpisodeHead episode = episodes.get(e.getKey());
              if (episode != null) {
                out.add(new QuarantinedEpisode(episode.id(), e.getValue()));
              }
            });
    return out;
  }

  /** The id of the episode under {@code ordinal}, for logs; a placeholder if it is gone. */
  public String episodeId(int ordinal) {
    EpisodeHead episode = episodes.get(ordinal);
    return episode == null ? "#" + ordinal : episode.id();
  }

  /** The stored episode with this id, if any. */
  public Episode get(String id) {
    Integer ordinal = ordinalsById.get(id);
    return ordinal == null ? null : episodeAt(ordinal);
  }

  /**
   * The {@code k} stored episodes most similar to a validated query, from the index and the fresh
   * segment, best first.
   */
  public List<Memory> recall(float[] query, int k, float minScore) {
    List<SearchHit> hits = similar(query, k, minScore, VectorIndex.ALL);
    List<Memory> memories = new ArrayList<>(hits.size());
    for (SearchHit hit : hits) {
      Memory m = memory(hit.ordinal(), hit.score());
      if (m != null) {
        memories.add(m);
      }
    }
    return memories;
  }

  /**
   * The ordinals a recall with {@code filter} may return: stored, not quarantined, and matching.
   */
  public IntPredicate accepting(RecallFilter filter) {
    if (filter.isEmpty()) {
      return VectorIndex.ALL;
    }
    boolean byMetadata = !filter.metadata().isEmpty();
    return ordinal -> {
      EpisodeHead e = episodes.get(ordinal);
      if (e == null
          || quarantined.containsKey(ordinal)
          || !filter.matchesHead(e.observedAt(), e.sessionId())) {
        return false;
      }
      if (!byMetadata) {
        return true;
      }
      // Time and session were decided on the heap; metadata needs the payload (cache or store).
      Payload payload = payloads.read(ordinal, e.id());
      return payload != null && filter.matchesMetadata(payload.metadata()); // null: forgotten
    };
  }

  /**
   * The {@code k} stored episodes most similar to a validated query among those {@code accept}
   * passes, best first, each once, from the fresh segment and the index. The filter is applied
   * inside both searches; if the index search still comes back short (a selective filter the graph
   * walk could not satisfy), an exact scan of the accepted episodes answers instead, so {@code k}
   * hits come back whenever {@code k} episodes match.
   */
  public List<SearchHit> similar(float[] query, int k, float minScore, IntPredicate accept) {
    // Fresh segment first: an episode leaves it only after it is in the index, so an episode
    // that moves while we search is missed by the scan only if the index search, which starts
    // later, sees it.
    List<SearchHit> hits = new ArrayList<>(fresh.search(query, k, minScore, accept));
    if (index.size() > 0) {
      hits.addAll(index.search(query, k, Math.max(efSearch, k), minScore, accept));
    }
    List<SearchHit> best = distinctStored(hits, k);
    if (best.size() < k && accept != VectorIndex.ALL && index.size() > 0) {
      best = exactScan(query, k, minScore, accept);
    }
    return best;
  }

  /** The {@code k} best BM25 matches for {@code text} among the ordinals {@code accept} passes. */
  public List<TextHit> lexical(String text, int k, IntPredicate accept) {
    List<TextHit> hits = this.text.search(text, k, accept);
    List<TextHit> stored = new ArrayList<>(hits.size());
    for (TextHit hit : hits) {
      if (episodes.containsKey(hit.ordinal()) && !quarantined.containsKey(hit.ordinal())) {
        stored.add(hit);
      }
    }
    return stored;
  }

  /** The memory for a search hit, or null if its episode was forgotten meanwhile. */
  public Memory memory(int ordinal, float score) {
    Episode episode = episodeAt(ordinal);
    return episode == null ? null : new Memory(episode, score, episode.confidence());
  }

  /** Episodes accepted whose text the text index has not refreshed yet (scanned on recall). */
  public int textTailSize() {
    return text.tailSize();
  }

  /** The text index, for tests and tools that need to wait for or force a refresh. */
  public TextIndex textIndex() {
    return text;
  }

  private List<SearchHit> distinctStored(List<SearchHit> hits, int k) {
    hits.sort(null);
    List<SearchHit> out = new ArrayList<>(Math.min(k, hits.size()));
    Set<Integer> seen = new HashSet<>();
    for (SearchHit hit : hits) {
      if (out.size() == k) {
        break;
      }
      if (seen.add(hit.ordinal()) && episodes.containsKey(hit.ordinal())) {
        out.add(hit); // an ordinal may be in the index and still in the fresh segment
      }
    }
    return out;
  }

  private List<SearchHit> exactScan(float[] query, int k, float minScore, IntPredicate accept) {
    TopK top = new TopK(k, minScore);
    episodes.forEach(
        (ordinal, episode) -> {
          if (episode.embedded() // text only: not embedded yet
              && !quarantined.containsKey(ordinal)
              && accept.test(ordinal)) {
            float[] vector = fresh.get(ordinal);
            if (vector == null) {
              vector = index.vector(ordinal);
            }
            if (vector == null) {
              vector = parked.get(ordinal); // merged into another memory
            }
            if (vector != null) { // null: forgotten meanwhile
              top.offer(ordinal, VectorMath.score(config.metric(), query, vector));
            }
          }
        });
    return top.best();
  }

  /**
   * Forgets the episodes with these ids; returns how many were stored. Forgetting a memory that
   * consolidation merged near-duplicates into does not forget them: callers that mean the whole
   * memory pass {@link #withAliases} of the ids. Each episode leaves the association graph with its
   * edges.
   */
  public int forget(Collection<String> ids) {
    int forgotten = 0;
    for (String id : ids) {
      Integer ordinal = ordinalsById.remove(id);
      if (ordinal == null) {
        continue;
      }
      episodes.remove(ordinal);
      quarantined.remove(ordinal);
      fresh.remove(ordinal);
      text.remove(ordinal);
      index.remove(ordinal);
      parked.remove(ordinal);
      payloads.removed(ordinal);
      associations.remove(ordinal);
      forgotten++;
    }
    return forgotten;
  }

  /** {@code ids} and the ids of the near-duplicates merged into each of them, once each. */
  public List<String> withAliases(Collection<String> ids) {
    Set<String> out = new java.util.LinkedHashSet<>(ids);
    for (String id : ids) {
      Integer ordinal = ordinalsById.get(id);
      Associations.Node node = ordinal == null ? null : associations.node(ordinal);
      if (node != null) {
        for (int alias : node.aliases()) {
          EpisodeHead e = episodes.get(alias);
          if (e != null) {
            out.add(e.id());
          }
        }
      }
    }
    return new ArrayList<>(out);
  }

  /**
   * Counts for {@code GetSpace}. An episode consolidation merged into another memory counts as
   * indexed: it was, and its memory still is (it is recalled as an alias), so indexed = episodes
   * once the space is idle.
   */
  public SpaceInfo info() {
    int stored = episodes.size();
    int indexed = Math.min(stored, index.size() + associations.mergedCount());
    return new SpaceInfo(config, stored, indexed, associations.size());
  }

  /** Episodes accepted but not yet in the index. */
  public int freshSize() {
    return fresh.size();
  }

  /** Counts and sizes for metrics; each value is read on its own (not one atomic snapshot). */
  public SpaceStats stats() {
    return new SpaceStats(
        config.id(), episodes.size(), index.size(), fresh.size(), index.memoryBytes());
  }

  public boolean isDeleted() {
    return deleted;
  }

  void markDeleted() {
    deleted = true;
    text.close();
  }

  /** Releases the text index (engine shutdown); the space answers no text recall afterwards. */
  public void closeText() {
    text.close();
  }
}
