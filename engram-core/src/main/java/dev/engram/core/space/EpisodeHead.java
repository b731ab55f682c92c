package dev.engram.core.space;

import dev.engram.core.model.Episode;
import java.time.Instant;

/**
 * What a memory space keeps on its heap for each stored episode: the id (idempotency, answers),
 * {@code observed_at} (time filters, recency, consolidation's timeline), confidence (ranking), the
 * accepting session (session filters) and whether it has a vector yet (text-only episodes wait for
 * the embed stage). The vector lives in the index (or the fresh segment until it is indexed);
 * content and metadata in {@link Payloads}.
 *
 * <p>Thread-safety: immutable.
 */
public final class EpisodeHead {
  private final String id;
  private final long observedSeconds;
  private final int observedNanos;
  private final float confidence;
  private final boolean embedded;
  private final String sessionId;

  private EpisodeHead(
      String id,
      long observedSeconds,
      int observedNanos,
      float confidence,
      boolean embedded,
      String sessionId) {
    this.id = id;
    this.sessionId = sessionId;
    this.observedSeconds = observedSeconds;
    this.observedNanos = observedNanos;
    this.confidence = confidence;
    this.embedded = embedded;
  }

  static EpisodeHead of(Episode episode) {
    Instant at = episode.observedAt();
    return new EpisodeHead(
        episode.id(),
        at.getEpochSecond(),
        at.getNano(),
        episode.confidence(),
        episode.embedding().length > 0,
        episode.sessionId());
  }

  /** This head with a vector (a text-only episode the embed stage embedded). */
  EpisodeHead withVector() {
    return new EpisodeHead(id, observedSeconds, observedNanos, confidence, true, sessionId);
  }

  public String id() {
    return id;
  }

  public Instant observedAt() {
    return Instant.ofEpochSecond(observedSeconds, observedNanos);
  }

  /** {@code observed_at} in epoch milliseconds. */
  public long observedMillis() {
    return observedSeconds * 1000 + observedNanos / 1_000_000;
  }

  public float confidence() {
    return confidence;
  }

  /** The stream session that accepted it; empty for a unary write. */
  public String sessionId() {
    return sessionId;
  }

  /** False for a text-only episode that has no vector yet. */
  public boolean embedded() {
    return embedded;
  }
}
