package dev.engram.core.model;

import java.util.Objects;

/**
 * An episode that was accepted (and so is kept) but could not be indexed: indexing it killed an
 * index worker twice, or failed twice while the server recovered. It stays stored and readable by
 * id, its id stays taken (a resend is a duplicate), and it is kept out of the vector index and out
 * of recall, across restarts, until it is forgotten.
 *
 * @param id the episode's id
 * @param reason why it was quarantined (the failure, for operators)
 */
public record QuarantinedEpisode(String id, String reason) {
  public QuarantinedEpisode {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(reason, "reason");
  }
}
