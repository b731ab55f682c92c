package dev.engram.core.session;

import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.model.Episode;
import dev.engram.core.model.EpisodeValidator;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.space.Admission;
import dev.engram.core.space.MemorySpace;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;

/**
 * The acceptance path every observation takes, from a stream or a unary call: validate against the
 * space, store in the space (idempotent by id), hand to an index worker. Callers reserve queue room
 * first; the acceptor releases it for episodes that do not need indexing.
 *
 * <p>The durable append (write-ahead log) belongs between {@link MemorySpace#admit} and the ack;
 * see docs/architecture.md.
 *
 * <p>Thread-safety: stateless apart from injected collaborators; safe from any thread.
 */
public final class Acceptor {
  private final IngestQueue queue;
  private final InstantSource clock;

  public Acceptor(IngestQueue queue, InstantSource clock) {
    this.queue = queue;
    this.clock = clock;
  }

  /** The result of {@link #remember}. */
  public record Remembered(List<String> ids, int duplicates) {}

  /**
   * Validates an episode for {@code space}: the stored form, with defaults applied.
   *
   * @throws InvalidInputException naming the problem
   */
  public Episode validate(MemorySpace space, Episode episode, String defaultId) {
    Episode valid = EpisodeValidator.validate(space.config(), episode, defaultId);
    java.time.Instant at = EpisodeValidator.orNow(valid.observedAt(), clock.instant());
    return at == valid.observedAt()
        ? valid
        : new Episode(
            valid.id(),
            valid.embedding(),
            valid.content(),
            at,
            valid.confidence(),
            valid.metadata());
  }

  /**
   * Admits a validated episode for which one unit of queue room is reserved.
   *
   * @return true if it was stored, false if its id was already stored (the room is released and the
   *     callback told at once)
   */
  public boolean admitReserved(
      MemorySpace space, Episode valid, long sequence, IndexCallback callback) {
    return switch (space.admit(valid)) {
      case Admission.Accepted accepted -> {
        queue.submit(space, accepted.ordinal(), sequence, callback);
        yield true;
      }
      case Admission.Duplicate ignored -> {
        queue.release(1);
        callback.indexed(sequence);
        yield false;
      }
    };
  }

  /**
   * Stores a batch all-or-nothing as far as validation and room go: every episode is validated
   * before any is stored, and room for all is reserved or none.
   *
   * @throws InvalidInputException if any episode is invalid (nothing is stored)
   * @throws OverloadedException if the queue has no room for the whole batch
   */
  public Remembered remember(MemorySpace space, List<Episode> episodes, String idPrefix) {
    if (episodes.isEmpty()) {
      throw new InvalidInputException("episodes is empty: send at least one episode");
    }
    List<Episode> valid = new ArrayList<>(episodes.size());
    for (int i = 0; i < episodes.size(); i++) {
      try {
        valid.add(validate(space, episodes.get(i), idPrefix + "/" + i));
      } catch (InvalidInputException e) {
        throw new InvalidInputException("episodes[%d]: %s".formatted(i, e.getMessage()));
      }
    }
    int granted = queue.tryReserve(valid.size());
    if (granted < valid.size()) {
      queue.release(granted);
      throw new OverloadedException(
          "ingest queue is full (%d of %d); retry later".formatted(queue.depth(), queue.capacity()),
          queue.retryAfterMillis());
    }
    List<String> ids = new ArrayList<>(valid.size());
    int duplicates = 0;
    for (Episode episode : valid) {
      if (!admitReserved(space, episode, 0, IndexCallback.NONE)) {
        duplicates++;
      }
      ids.add(episode.id());
    }
    return new Remembered(ids, duplicates);
  }
}
