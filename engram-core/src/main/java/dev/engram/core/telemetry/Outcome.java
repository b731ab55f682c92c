package dev.engram.core.telemetry;

/**
 * What became of one observation (one episode) that reached a door. Every episode of a processed
 * message ends in exactly one of the first four; {@link #REFUSED_OVERLOADED} counts episodes the
 * queue had no room for (the client resends them, so they may later count again).
 *
 * <p>Thread-safety: an enum, immutable.
 */
public enum Outcome {
  /** Stored and queued for indexing. */
  ACCEPTED("accepted"),
  /** Its id (or sequence number) was already stored: acknowledged again, not stored again. */
  DUPLICATE("duplicate"),
  /** Invalid: rejected with a reason, its sequence number consumed. */
  REJECTED("rejected"),
  /** Accepted, then kept out of the index because indexing it killed a worker twice. */
  QUARANTINED("quarantined"),
  /** Not taken: the ingest queue was at its hard limit. */
  REFUSED_OVERLOADED("refused_overloaded");

  private final String label;

  Outcome(String label) {
    this.label = label;
  }

  /** The value of the {@code outcome} label. */
  public String label() {
    return label;
  }
}
