package dev.engram.core.model;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One observation: an embedding with its text, time, confidence and metadata. Validated against a
 * space by {@link EpisodeValidator}; this record only guards against nulls.
 *
 * @param id unique within its space; never empty once accepted
 * @param embedding the vector; owned by the episode once constructed (callers pass a copy)
 * @param content free text, at most 64 KiB of UTF-8
 * @param observedAt when the client observed it
 * @param confidence in [0, 1]
 * @param metadata at most 64 entries
 * @param sessionId the stream session that accepted it; empty for a unary write (and for every
 *     episode a client sends: the server sets it, see {@link EpisodeValidator})
 */
public record Episode(
    String id,
    float[] embedding,
    String content,
    Instant observedAt,
    float confidence,
    Map<String, String> metadata,
    String sessionId) {

  public Episode {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(embedding, "embedding");
    content = content == null ? "" : content;
    Objects.requireNonNull(observedAt, "observedAt");
    metadata = metadata == null ? Map.of() : metadata;
    sessionId = sessionId == null ? "" : sessionId;
  }

  /** An episode no session accepted (yet): what clients send and unary writes store. */
  public Episode(
      String id,
      float[] embedding,
      String content,
      Instant observedAt,
      float confidence,
      Map<String, String> metadata) {
    this(id, embedding, content, observedAt, confidence, metadata, "");
  }

  /** A copy with another id (used when the server names an episode the client left unnamed). */
  public Episode withId(String newId) {
    return new Episode(newId, embedding, content, observedAt, confidence, metadata, sessionId);
  }

  /** A copy with another embedding (e.g. normalised for a cosine space). */
  public Episode withEmbedding(float[] newEmbedding) {
    return new Episode(id, newEmbedding, content, observedAt, confidence, metadata, sessionId);
  }
}
