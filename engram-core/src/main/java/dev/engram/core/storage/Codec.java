package dev.engram.core.storage;

import dev.engram.core.consolidate.Associations;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.space.Payload;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Binary layout of the store's keys and values. Keys are big-endian so that one space's episodes
 * sort together (prefix = the space's 8-byte incarnation); values are little-endian.
 *
 * <pre>
 * spaces    key: space id (UTF-8)         value: incarnation i64, dimension i32, metric u8,
 *                                                then the embedder's name (UTF-8; absent = none)
 * episodes  key: incarnation i64, id      value: ordinal i32, observed-at seconds i64, nanos i32,
 *                                                confidence f32, dimension i32, floats,
 *                                                content (i32 length, UTF-8), metadata count i32,
 *                                                then (key, value) strings, then the accepting
 *                                                session's id (string; absent = none, as in
 *                                                records written before sessions were kept)
 * sessions  key: session id (UTF-8)       value: incarnation i64, last sequence i64,
 *                                                updated-at millis i64, space id (UTF-8)
 * quarantine key: incarnation i64, id      value: ordinal i32, reason (UTF-8)
 *            (the same key as the episode it marks; it applies only to that ordinal)
 * default   key: "next-incarnation"       value: i64
 * </pre>
 *
 * <p>Thread-safety: stateless.
 */
final class Codec {
  static final byte[] NEXT_INCARNATION = "next-incarnation".getBytes(StandardCharsets.UTF_8);

  private Codec() {}

  record StoredSpace(SpaceConfig config, long incarnation) {}

  record StoredEpisode(long incarnation, int ordinal, Episode episode) {}

  record StoredQuarantine(long incarnation, String id, int ordinal, String reason) {}

  record StoredSession(
      String id, long incarnation, long lastSequence, long updatedMillis, String spaceId) {}

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] longBytes(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  static long readLong(byte[] b) {
    return ByteBuffer.wrap(b).getLong();
  }

  // ---- spaces ----

  static byte[] spaceValue(SpaceConfig config, long incarnation) {
    byte[] embedder = utf8(config.embedder());
    return ByteBuffer.allocate(21 + embedder.length)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(incarnation)
        .putInt(config.dimension())
        .put((byte) config.metric().ordinal())
        .putLong(config.halfLife().toSeconds())
        .put(embedder)
        .array();
  }

  static StoredSpace space(byte[] key, byte[] value) {
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    long incarnation = b.getLong();
    int dimension = b.getInt();
    Metric metric = Metric.values()[b.get()];
    // Written before consolidation and embedders existed: no half-life (no decay), no embedder.
    Duration halfLife = Duration.ofSeconds(b.remaining() >= 8 ? b.getLong() : 0);
    String embedder = new String(value, b.position(), b.remaining(), StandardCharsets.UTF_8);
    return new StoredSpace(
        new SpaceConfig(
            SpaceId.of(new String(key, StandardCharsets.UTF_8)),
            dimension,
            metric,
            halfLife,
            embedder),
        incarnation);
  }

  // ---- episodes ----

  /** The first key of a space incarnation's episodes. */
  static byte[] episodePrefix(long incarnation) {
    return longBytes(incarnation);
  }

  /** The first key after a space incarnation's episodes. */
  static byte[] episodePrefixEnd(long incarnation) {
    return longBytes(incarnation + 1);
  }

  static byte[] episodeKey(long incarnation, String id) {
    byte[] idBytes = utf8(id);
    return ByteBuffer.allocate(8 + idBytes.length).putLong(incarnation).put(idBytes).array();
  }

  static byte[] episodeValue(int ordinal, Episode e) {
    byte[] content = utf8(e.content());
    byte[] session = utf8(e.sessionId());
    int size = 4 + 8 + 4 + 4 + 4 + 4 * e.embedding().length + 4 + content.length + 4;
    size += session.length == 0 ? 0 : 4 + session.length;
    byte[][] meta = new byte[2 * e.metadata().size()][];
    int i = 0;
    for (Map.Entry<String, String> m : e.metadata().entrySet()) {
      meta[i] = utf8(m.getKey());
      meta[i + 1] = utf8(m.getValue());
      size += 8 + meta[i].length + meta[i + 1].length;
      i += 2;
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(ordinal)
        .putLong(e.observedAt().getEpochSecond())
        .putInt(e.observedAt().getNano())
        .putFloat(e.confidence())
        .putInt(e.embedding().length);
    b.asFloatBuffer().put(e.embedding());
    b.position(b.position() + 4 * e.embedding().length);
    b.putInt(content.length).put(content).putInt(e.metadata().size());
    for (byte[] s : meta) {
      b.putInt(s.length).put(s);
    }
    if (session.length > 0) {
      b.putInt(session.length).put(session);
    }
    return b.array();
  }

  static StoredEpisode episode(byte[] key, byte[] value) {
    ByteBuffer k = ByteBuffer.wrap(key);
    long incarnation = k.getLong();
    String id = new String(key, 8, key.length - 8, StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    int ordinal = b.getInt();
    Instant at = Instant.ofEpochSecond(b.getLong(), b.getInt());
    float confidence = b.getFloat();
    float[] vector = new float[b.getInt()];
    b.asFloatBuffer().get(vector);
    b.position(b.position() + 4 * vector.length);
    String content = string(b);
    int entries = b.getInt();
    Map<String, String> metadata = entries == 0 ? Map.of() : new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      metadata.put(string(b), string(b));
    }
    // One String per session, not per episode: many episodes share their session's id.
    String session = b.hasRemaining() ? string(b).intern() : "";
    return new StoredEpisode(
        incarnation, ordinal, new Episode(id, vector, content, at, confidence, metadata, session));
  }

  /**
   * The payload (content and metadata) of an episode record, without decoding its vector, if the
   * record is stored under {@code ordinal}; null if the key now holds another ordinal's episode.
   */
  static Payload payload(int ordinal, byte[] value) {
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    if (b.getInt() != ordinal) {
      return null;
    }
    b.position(b.position() + 8 + 4 + 4); // observed-at, confidence
    int dimension = b.getInt();
    b.position(b.position() + 4 * dimension);
    String content = string(b);
    int entries = b.getInt();
    Map<String, String> metadata = entries == 0 ? Map.of() : new LinkedHashMap<>();
    for (int i = 0; i < entries; i++) {
      metadata.put(string(b), string(b));
    }
    return new Payload(content, metadata);
  }

  // ---- quarantine ----

  static byte[] quarantineValue(int ordinal, String reason) {
    byte[] text = utf8(reason);
    return ByteBuffer.allocate(4 + text.length)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putInt(ordinal)
        .put(text)
        .array();
  }

  static StoredQuarantine quarantine(byte[] key, byte[] value) {
    long incarnation = ByteBuffer.wrap(key).getLong();
    String id = new String(key, 8, key.length - 8, StandardCharsets.UTF_8);
    int ordinal = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt();
    String reason = new String(value, 4, value.length - 4, StandardCharsets.UTF_8);
    return new StoredQuarantine(incarnation, id, ordinal, reason);
  }

  // ---- associations (key: the episode's key) ----

  record StoredNode(long incarnation, String id, int ordinal, Associations.Node node) {}

  static byte[] nodeValue(int ordinal, Associations.Node n) {
    int edges = n.neighbours().length;
    ByteBuffer b =
        ByteBuffer.allocate(1 + 4 + 4 + 8 + 4 + 4 + 4 * n.aliases().length + 4 + 8 * edges)
            .order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 1).putInt(ordinal).putFloat(n.strength()).putLong(n.referenceMillis());
    b.putInt(n.mergedInto()).putInt(n.aliases().length);
    for (int a : n.aliases()) {
      b.putInt(a);
    }
    b.putInt(edges);
    for (int i = 0; i < edges; i++) {
      b.putInt(n.neighbours()[i]).putFloat(n.weights()[i]);
    }
    return b.array();
  }

  static StoredNode node(byte[] key, byte[] value) {
    long incarnation = ByteBuffer.wrap(key).getLong();
    String id = new String(key, 8, key.length - 8, StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    byte version = b.get();
    if (version != 1) {
      throw new IllegalStateException("unknown association record version " + version);
    }
    int ordinal = b.getInt();
    float strength = b.getFloat();
    long reference = b.getLong();
    int mergedInto = b.getInt();
    int[] aliases = new int[b.getInt()];
    for (int i = 0; i < aliases.length; i++) {
      aliases[i] = b.getInt();
    }
    int edges = b.getInt();
    int[] neighbours = new int[edges];
    float[] weights = new float[edges];
    for (int i = 0; i < edges; i++) {
      neighbours[i] = b.getInt();
      weights[i] = b.getFloat();
    }
    return new StoredNode(
        incarnation,
        id,
        ordinal,
        new Associations.Node(neighbours, weights, strength, reference, mergedInto, aliases));
  }

  // ---- sessions ----

  static byte[] sessionValue(long incarnation, long lastSequence, long nowMillis, String spaceId) {
    byte[] space = utf8(spaceId);
    return ByteBuffer.allocate(24 + space.length)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(incarnation)
        .putLong(lastSequence)
        .putLong(nowMillis)
        .put(space)
        .array();
  }

  static StoredSession session(byte[] key, byte[] value) {
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    long incarnation = b.getLong();
    long last = b.getLong();
    long updated = b.getLong();
    String space = new String(value, 24, value.length - 24, StandardCharsets.UTF_8);
    return new StoredSession(
        new String(key, StandardCharsets.UTF_8), incarnation, last, updated, space);
  }

  private static String string(ByteBuffer b) {
    int n = b.getInt();
    String s = new String(b.array(), b.arrayOffset() + b.position(), n, StandardCharsets.UTF_8);
    b.position(b.position() + n);
    return s;
  }

  static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }
}
