package dev.engram.core.session;

import dev.engram.core.auth.TokenBucket;
import dev.engram.core.ingest.EmbedStage;
import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.model.Episode;
import dev.engram.core.model.EpisodeValidator;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.LimitExceededException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.TokenRateExceededException;
import dev.engram.core.space.Admission;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.storage.Journal;
import dev.engram.core.storage.WriteSet;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import dev.engram.core.telemetry.Outcome;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;

/**
 * The acceptance path every observation takes, from a stream or a unary call: validate against the
 * space, store in the space (idempotent by id), hand to an index worker. Callers reserve queue room
 * first; the acceptor releases it for episodes that do not need indexing.
 *
 * <p>Durability: every admission is recorded in a {@link WriteSet} (one per stream message or unary
 * call) that the caller commits to the store's write-ahead log before it acknowledges; see
 * docs/durability.md.
 *
 * <p>Thread-safety: stateless apart from injected collaborators; safe from any thread.
 */
public final class Acceptor {
  private final IngestQueue queue;
  private final InstantSource clock;
  private final Journal journal;
  private final EngineEvents events;
  private final EmbedStage embeds; // null: no server-side embedding

  /** An acceptor that keeps nothing on disk. */
  public Acceptor(IngestQueue queue, InstantSource clock) {
    this(queue, clock, Journal.IN_MEMORY);
  }

  /** An acceptor that records what it admits in {@code journal} before callers acknowledge. */
  public Acceptor(IngestQueue queue, InstantSource clock, Journal journal) {
    this(queue, clock, journal, EngineEvents.NONE);
  }

  /**
   * As {@link #Acceptor(IngestQueue, InstantSource, Journal)}, reporting visibility lag and the
   * outcomes of unary {@link #remember} calls to {@code events}.
   */
  public Acceptor(IngestQueue queue, InstantSource clock, Journal journal, EngineEvents events) {
    this(queue, clock, journal, events, null);
  }

  /**
   * As {@link #Acceptor(IngestQueue, InstantSource, Journal, EngineEvents)}, handing text-only
   * episodes (accepted without an embedding, for a space with an embedder) to {@code embeds} once
   * they are durable, instead of straight to the index workers.
   */
  public Acceptor(
      IngestQueue queue,
      InstantSource clock,
      Journal journal,
      EngineEvents events,
      EmbedStage embeds) {
    this.queue = queue;
    this.clock = clock;
    this.journal = journal;
    this.events = events;
    this.embeds = embeds;
  }

  /** A new write set: record admissions into it, commit it, then acknowledge. */
  public WriteSet begin() {
    return journal.begin();
  }

  /** The result of {@link #remember}. */
  public record Remembered(List<String> ids, int duplicates) {}

  /**
   * Validates an episode for {@code space}: the stored form, with defaults applied.
   *
   * @throws InvalidInputException naming the problem
   */
  public Episode validate(MemorySpace space, Episode episode, String defaultId) {
    return validate(space, episode, defaultId, "");
  }

  /**
   * As {@link #validate(MemorySpace, Episode, String)}, for an episode stream session {@code
   * sessionId} accepts: the stored form records the session (recall filters on it).
   *
   * @throws InvalidInputException naming the problem
   */
  public Episode validate(MemorySpace space, Episode episode, String defaultId, String sessionId) {
    return EpisodeValidator.validate(
        space.config(), episode, defaultId, sessionId, clock.instant());
  }

  /**
   * Admits a validated episode for which one unit of queue room is reserved.
   *
   * @return true if it was admitted (visible once the write set commits), false if its id was
   *     already stored (the room is released and the callback told at once)
   */
  public boolean admitReserved(
      MemorySpace space, Episode valid, long sequence, IndexCallback callback) {
    WriteSet writes = journal.begin();
    try {
      return admitReserved(space, valid, sequence, callback, writes);
    } finally {
      writes.commit();
    }
  }

  /**
   * As {@link #admitReserved(MemorySpace, Episode, long, IndexCallback)}, recording the admission
   * in {@code writes}; the caller commits it before acknowledging.
   */
  public boolean admitReserved(
      MemorySpace space, Episode valid, long sequence, IndexCallback callback, WriteSet writes) {
    return admitReserved(space, valid, sequence, callback, writes, Door.EMBEDDED);
  }

  /**
   * As {@link #admitReserved(MemorySpace, Episode, long, IndexCallback, WriteSet)}, for an episode
   * that came in through {@code door}: its visibility and index lag are measured from now.
   */
  public boolean admitReserved(
      MemorySpace space,
      Episode valid,
      long sequence,
      IndexCallback callback,
      WriteSet writes,
      Door door) {
    return switch (space.reserve(valid)) {
      case Admission.Accepted accepted -> {
        writes.admitted(
            space,
            accepted.ordinal(),
            valid,
            new Publication(
                queue,
                embeds,
                events,
                space,
                accepted.ordinal(),
                valid,
                sequence,
                callback,
                door,
                queue.nanoTime()));
        yield true;
      }
      case Admission.Duplicate ignored -> {
        writes.duplicate(space, valid.id());
        queue.release(1);
        callback.indexed(sequence);
        callback.consolidated(sequence);
        yield false;
      }
    };
  }

  /**
   * An admitted episode waiting for its write set: once durable it becomes visible and goes to an
   * index worker; if the write fails its id and its queue room are given back.
   */
  private record Publication(
      IngestQueue queue,
      EmbedStage embeds,
      EngineEvents events,
      MemorySpace space,
      int ordinal,
      Episode episode,
      long sequence,
      IndexCallback callback,
      Door door,
      long acceptedNanos)
      implements WriteSet.Pending {

    @Override
    public void publish() {
      space.publish(ordinal, episode);
      if (episode.embedding().length == 0 && embeds != null) {
        // Text only: acknowledged now, embedded off the ack path, then indexed.
        embeds.submit(space, ordinal, sequence, callback, door, acceptedNanos);
        return;
      }
      events.visible(queue.nanoTime() - acceptedNanos);
      queue.submit(space, ordinal, sequence, callback, door, acceptedNanos);
    }

    @Override
    public void withdraw() {
      space.withdraw(ordinal, episode.id());
      queue.release(1);
    }
  }

  /**
   * Stores a batch all-or-nothing as far as validation and room go: every episode is validated
   * before any is stored, and room for all is reserved or none.
   *
   * @throws InvalidInputException if any episode is invalid (nothing is stored)
   * @throws OverloadedException if the queue has no room for the whole batch
   */
  public Remembered remember(MemorySpace space, List<Episode> episodes, String idPrefix) {
    return remember(space, episodes, idPrefix, Door.EMBEDDED);
  }

  /**
   * As {@link #remember(MemorySpace, List, String)}, for a call that came in through {@code door}:
   * each episode's outcome is counted under it (a batch refused as a whole counts every episode).
   */
  public Remembered remember(
      MemorySpace space, List<Episode> episodes, String idPrefix, Door door) {
    return remember(space, episodes, idPrefix, door, TokenBucket.UNLIMITED);
  }

  /**
   * As {@link #remember(MemorySpace, List, String, Door)}, taking the batch from {@code rate}, the
   * caller's token's bucket, all or nothing.
   *
   * @throws TokenRateExceededException if the bucket does not hold the batch (nothing is stored)
   */
  public Remembered remember(
      MemorySpace space, List<Episode> episodes, String idPrefix, Door door, TokenBucket rate) {
    queue.acceptBegan(); // index workers yield to accepts in flight
    try {
      Remembered r = rememberAll(space, episodes, idPrefix, door, rate);
      events.observations(door, Outcome.ACCEPTED, r.ids().size() - r.duplicates());
      events.observations(door, Outcome.DUPLICATE, r.duplicates());
      return r;
    } catch (InvalidInputException e) {
      events.observations(door, Outcome.REJECTED, episodes.size());
      throw e;
    } catch (OverloadedException e) {
      events.observations(door, Outcome.REFUSED_OVERLOADED, episodes.size());
      throw e;
    } finally {
      queue.acceptEnded();
    }
  }

  private Remembered rememberAll(
      MemorySpace space, List<Episode> episodes, String idPrefix, Door door, TokenBucket rate) {
    if (episodes.isEmpty()) {
      throw new InvalidInputException("episodes is empty: send at least one episode");
    }
    List<Episode> valid = new ArrayList<>(episodes.size());
    for (int i = 0; i < episodes.size(); i++) {
      try {
        Episode episode = episodes.get(i);
        valid.add(validate(space, episode, episode.id().isEmpty() ? idPrefix + "/" + i : ""));
      } catch (InvalidInputException e) {
        String problem = "episodes[%d]: %s".formatted(i, e.getMessage());
        throw e instanceof LimitExceededException over
            ? new LimitExceededException(over.limit(), problem)
            : new InvalidInputException(problem);
      }
    }
    if (!rate.takeAll(valid.size())) {
      throw new TokenRateExceededException(
          ("this token's rate limit (--token-rate %d/s) is reached: %d observations need a pause;"
                  + " retry later")
              .formatted(rate.rate(), valid.size()),
          rate.retryAfterMillis(valid.size()));
    }
    int granted = queue.tryReserve(valid.size());
    if (granted < valid.size()) {
      queue.release(granted);
      rate.giveBack(valid.size());
      throw new OverloadedException(
          "ingest queue is full (%d of %d); retry later".formatted(queue.depth(), queue.capacity()),
          queue.retryAfterMillis());
    }
    List<String> ids = new ArrayList<>(valid.size());
    int duplicates = 0;
    WriteSet writes = journal.begin();
    try {
      for (Episode episode : valid) {
        if (!admitReserved(space, episode, 0, IndexCallback.NONE, writes, door)) {
          duplicates++;
        }
        ids.add(episode.id());
      }
    } finally {
      writes.commit(); // durable before the answer; on failure nothing stays admitted
    }
    return new Remembered(ids, duplicates);
  }
}
