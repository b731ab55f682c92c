package dev.engram.core.storage;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.engram.core.model.Episode;
import dev.engram.core.space.Payload;
import dev.engram.core.space.Payloads;

/**
 * The payloads of one space incarnation, read from the store's episode records through a cache
 * shared by every space of the server.
 *
 * <p>Cache: Caffeine, bounded by weight ({@link Payload#weight}, an estimate of the heap bytes of
 * the content and metadata strings) to {@code --payload-cache-mb}; keyed by (incarnation, ordinal),
 * so an entry can never answer for another space or for an id stored again under a new ordinal.
 * Entries are loaded on a miss (one RocksDB point read: the memtable or the block cache, else one
 * SST read) and never on the accept path, which has just written the record.
 *
 * <p>Consistency: the record is written (and the space told) before an episode is published, and
 * deleted before it is forgotten; a read racing a forget may load an entry after the forget
 * invalidated it, which nothing will ask for again (ordinals are never reused) and which the cache
 * evicts in time.
 *
 * <p>Thread-safety: safe for concurrent calls (Caffeine and RocksDB handles are).
 */
final class StoredPayloads implements Payloads {
  /** The cache every space's payloads share. */
  static Cache<Key, Payload> cache(long maxBytes) {
    return Caffeine.newBuilder()
        .maximumWeight(maxBytes)
        .weigher((Key k, Payload p) -> p.weight())
        .executor(Runnable::run) // maintenance on the calling thread, not the common pool
        .recordStats()
        .build();
  }

  /** A payload's cache key. */
  record Key(long incarnation, int ordinal) {}

  private final EpisodeStore kv;
  private final long incarnation;
  private final Cache<Key, Payload> cache;

  StoredPayloads(EpisodeStore kv, long incarnation, Cache<Key, Payload> cache) {
    this.kv = kv;
    this.incarnation = incarnation;
    this.cache = cache;
  }

  @Override
  public void stored(int ordinal, Episode episode) {
    // the store holds the record already; the first read caches it
  }

  @Override
  public Payload read(int ordinal, String id) {
    Key key = new Key(incarnation, ordinal);
    Payload cached = cache.getIfPresent(key);
    if (cached != null) {
      return cached;
    }
    byte[] value = kv.get(kv.episodes, Codec.episodeKey(incarnation, id));
    Payload payload = value == null ? null : Codec.payload(ordinal, value);
    if (payload != null) {
      cache.put(key, payload);
    }
    return payload;
  }

  @Override
  public void removed(int ordinal) {
    cache.invalidate(new Key(incarnation, ordinal));
  }

  /** Drops every cached payload of this incarnation (its space was deleted). */
  void removeAll() {
    cache.asMap().keySet().removeIf(k -> k.incarnation() == incarnation);
  }
}
