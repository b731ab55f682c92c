package dev.engram.core.model;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

/**
 * The one place where an episode is checked against its space's definition: id syntax, dimension,
 * finite values, content and metadata limits. Every transport reaches it through the session layer;
 * nothing else validates episodes.
 *
 * <p>Thread-safety: immutable.
 */
public final class EpisodeValidator {
  public static final int MAX_ID_LENGTH = 256;
  public static final int MAX_CONTENT_BYTES = 64 * 1024;
  public static final int MAX_METADATA_ENTRIES = 64;
  public static final int MAX_METADATA_KEY_LENGTH = 256;
  public static final int MAX_METADATA_VALUE_BYTES = 4 * 1024;
  public static final float DEFAULT_CONFIDENCE = 1.0f;

  private EpisodeValidator() {}

  /**
   * Checks {@code episode} against {@code space} and returns the form that is stored: an empty id
   * replaced by {@code defaultId}, an unset confidence (0) made 1.0, an unset time made {@code
   * now}, and for cosine spaces the embedding normalised.
   *
   * @throws InvalidInputException naming the first problem found
   */
  public static Episode validate(
      SpaceConfig space, Episode episode, String defaultId, Instant now) {
    return validate(space, episode, defaultId, "", now);
  }

  /**
   * As {@link #validate(SpaceConfig, Episode, String, Instant)}, for an episode that stream session
   * {@code sessionId} accepts (empty: a unary write): the stored form records it, whatever session
   * the episode itself names.
   *
   * @throws InvalidInputException naming the first problem found
   */
  public static Episode validate(
      SpaceConfig space, Episode episode, String defaultId, String sessionId, Instant now) {
    String id = episode.id().isEmpty() ? defaultId : episode.id();
    checkId(id);
    float[] v = episode.embedding();
    boolean textOnly = v.length == 0 && checkTextOnly(space, id, episode.content());
    if (!textOnly) {
      checkVector(space, v, "embedding");
    }
    if (!textOnly && space.metric() == Metric.COSINE && isZero(v)) {
      throw new InvalidInputException(
          "embedding of episode '%s' is all zeros: a cosine space cannot compare it"
              .formatted(Echo.clip(id)));
    }
    if (exceedsUtf8Bytes(episode.content(), MAX_CONTENT_BYTES)) {
      throw new LimitExceededException(
          Limit.CONTENT,
          "content of episode '%s' is %d bytes: at most %d bytes are allowed"
              .formatted(
                  Echo.clip(id),
                  episode.content().getBytes(StandardCharsets.UTF_8).length,
                  MAX_CONTENT_BYTES));
    }
    checkMetadata(id, episode.metadata());
    float confidence = episode.confidence();
    if (Float.isNaN(confidence) || confidence < 0f || confidence > 1f) {
      throw new InvalidInputException(
          "confidence %s of episode '%s' is out of range: use 0-1 (0 means unset, stored as 1)"
              .formatted(confidence, Echo.clip(id)));
    }
    if (confidence == 0f) {
      confidence = DEFAULT_CONFIDENCE;
    }
    float[] stored = !textOnly && space.metric() == Metric.COSINE ? normalized(v) : v;
    Instant at = episode.observedAt().equals(Instant.EPOCH) ? now : episode.observedAt();
    return new Episode(
        id, stored, episode.content(), at, confidence, episode.metadata(), sessionId);
  }

  /**
   * Whether an episode without an embedding may be stored for the server to embed: only in a space
   * with an embedder, and only with content.
   *
   * @throws InvalidInputException if it may not
   */
  private static boolean checkTextOnly(SpaceConfig space, String id, String content) {
    if (!space.hasEmbedder()) {
      throw new InvalidInputException(
          ("episode '%s' has no embedding and space '%s' has no embedder: send an embedding of"
                  + " dimension %d, or create the space with an embedder to send text only")
              .formatted(Echo.clip(id), space.id(), space.dimension()));
    }
    if (content.isBlank()) {
      throw new InvalidInputException(
          ("episode '%s' has neither an embedding nor content: space '%s' embeds content with"
                  + " '%s', so send content (or an embedding of dimension %d)")
              .formatted(Echo.clip(id), space.id(), space.embedder(), space.dimension()));
    }
    return true;
  }

  /**
   * The stored form of a text-only episode once the space's embedder has produced {@code vector}
   * for it: the vector checked like a client's (dimension, finite, not zero in a cosine space) and
   * normalised for cosine spaces.
   *
   * @throws InvalidInputException if the embedder returned an unusable vector
   */
  public static Episode embedded(SpaceConfig space, Episode episode, float[] vector) {
    return episode.withEmbedding(validateQuery(space, vector));
  }

  /**
   * Checks a query vector against a space.
   *
   * @return the vector as it is compared (normalised for cosine spaces)
   */
  public static float[] validateQuery(SpaceConfig space, float[] query) {
    checkVector(space, query, "cue embedding");
    if (space.metric() == Metric.COSINE) {
      if (isZero(query)) {
        throw new InvalidInputException("cue embedding is all zeros: a cosine space cannot use it");
      }
      return normalized(query);
    }
    return query;
  }

  /** An id must be 1-256 characters without control characters. */
  public static void checkId(String id) {
    if (id.isEmpty() || id.length() > MAX_ID_LENGTH) {
      throw new InvalidInputException(
          "episode id of length %d is invalid: use 1-%d characters"
              .formatted(id.length(), MAX_ID_LENGTH));
    }
    for (int i = 0; i < id.length(); i++) {
      if (Character.isISOControl(id.charAt(i))) {
        throw new InvalidInputException(
            "episode id '%s' contains a control character at index %d".formatted(Echo.clip(id), i));
      }
    }
  }

  private static void checkVector(SpaceConfig space, float[] v, String what) {
    if (v.length != space.dimension()) {
      throw new InvalidInputException(
          "%s has dimension %d but space '%s' has dimension %d"
              .formatted(what, v.length, space.id(), space.dimension()));
    }
    for (int i = 0; i < v.length; i++) {
      if (!Float.isFinite(v[i])) {
        throw new InvalidInputException(
            "%s[%d] is %s: values must be finite".formatted(what, i, v[i]));
      }
    }
  }

  private static void checkMetadata(String id, Map<String, String> metadata) {
    if (metadata.size() > MAX_METADATA_ENTRIES) {
      throw new LimitExceededException(
          Limit.METADATA,
          "metadata of episode '%s' has %d entries: at most %d are allowed"
              .formatted(Echo.clip(id), metadata.size(), MAX_METADATA_ENTRIES));
    }
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      String key = e.getKey();
      if (key.isEmpty() || key.length() > MAX_METADATA_KEY_LENGTH) {
        throw new LimitExceededException(
            Limit.METADATA,
            "metadata key of length %d in episode '%s' is invalid: use 1-%d characters"
                .formatted(key.length(), Echo.clip(id), MAX_METADATA_KEY_LENGTH));
      }
      if (exceedsUtf8Bytes(e.getValue(), MAX_METADATA_VALUE_BYTES)) {
        throw new LimitExceededException(
            Limit.METADATA,
            "metadata value of '%s' in episode '%s' is over %d bytes"
                .formatted(Echo.clip(key), Echo.clip(id), MAX_METADATA_VALUE_BYTES));
      }
    }
  }

  private static boolean isZero(float[] v) {
    for (float x : v) {
      if (x != 0f) {
        return false;
      }
    }
    return true;
  }

  private static float[] normalized(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += (double) x * x;
    }
    float inv = (float) (1.0 / Math.sqrt(sum));
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] * inv;
    }
    return out;
  }

  private static boolean exceedsUtf8Bytes(String s, int limit) {
    // A char encodes to at most 3 bytes, so short strings need no encoding to be checked.
    if ((long) s.length() * 3 <= limit) {
      return false;
    }
    return s.getBytes(StandardCharsets.UTF_8).length > limit;
  }
}
