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
 */
public record Episode(
    String id,
    float[] embedding,
    String content,
    Instant observedAt,
    float confidence,
    Map<String, String> metadata) {

  public Episode {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(embedding, "embedding");
    content = content == null ? "" : content;
    Objects.requireNonNull(observedAt, "observedAt");
    metadata = metadata == null ? Map.of() : metadata;
  }

  /** A copy with another id (used when the server names an episode the client left unnamed). */
  public Episode withId(String newId) {
    return new Episode(newId, embedding, content, observedAt, confidence, metadata);
  }

  /** A copy with another embedding (e.g. normalised for a cosine space). */
  public Episode withEmbedding(float[] newEmbedding) {
    return new Episode(id, newEmbedding, content, observedAt, confidence, metadata);
  }
}
