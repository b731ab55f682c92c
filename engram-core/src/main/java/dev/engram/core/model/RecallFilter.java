package dev.engram.core.model;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Which episodes a recall may return, in every mode: all of {@code metadata}'s entries equal (key
 * and value), {@code observedAt} in {@code [observedAfter, observedBefore)}, and accepted by stream
 * session {@code sessionId}. Every search (vector index, fresh segment, text index) tests it on
 * each candidate, inside the search, so a recall returns {@code k} memories whenever {@code k}
 * episodes match.
 *
 * @param metadata entries an episode's metadata must all hold; empty: any
 * @param observedAfter inclusive lower bound of {@code observed_at}; null: none
 * @param observedBefore exclusive upper bound of {@code observed_at}; null: none
 * @param sessionId the stream session that accepted the episode ({@link Episode#sessionId()});
 *     empty: any (episodes written by unary calls have none, so they never match a session)
 */
public record RecallFilter(
    Map<String, String> metadata, Instant observedAfter, Instant observedBefore, String sessionId) {
  /** Accepts every episode. */
  public static final RecallFilter NONE = new RecallFilter(Map.of(), null, null, "");

  public RecallFilter {
    metadata = Map.copyOf(Objects.requireNonNullElse(metadata, Map.of()));
    sessionId = Objects.requireNonNullElse(sessionId, "");
    if (observedAfter != null
        && observedBefore != null
        && !observedAfter.isBefore(observedBefore)) {
      throw new InvalidInputException(
          "filter.observed_after %s is not before filter.observed_before %s"
              .formatted(observedAfter, observedBefore));
    }
  }

  /** A filter on metadata and time only (any session). */
  public RecallFilter(Map<String, String> metadata, Instant observedAfter, Instant observedBefore) {
    this(metadata, observedAfter, observedBefore, "");
  }

  /** Whether this filter accepts every episode. */
  public boolean isEmpty() {
    return metadata.isEmpty()
        && observedAfter == null
        && observedBefore == null
        && sessionId.isEmpty();
  }

  /** Whether {@code episode} passes. */
  public boolean matches(Episode episode) {
    return matchesHead(episode.observedAt(), episode.sessionId())
        && matchesMetadata(episode.metadata());
  }

  /**
   * The part of the filter an episode's {@code observed_at} and accepting session decide; callers
   * that keep metadata elsewhere test this first and read metadata only for episodes that pass.
   */
  public boolean matchesHead(Instant observedAt, String episodeSessionId) {
    if (!sessionId.isEmpty() && !sessionId.equals(episodeSessionId)) {
      return false;
    }
    if (observedAfter != null && observedAt.isBefore(observedAfter)) {
      return false;
    }
    return observedBefore == null || observedAt.isBefore(observedBefore);
  }

  /** Whether every metadata entry of the filter is in {@code metadata}. */
  public boolean matchesMetadata(Map<String, String> metadata) {
    for (Map.Entry<String, String> e : this.metadata.entrySet()) {
      if (!e.getValue().equals(metadata.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
