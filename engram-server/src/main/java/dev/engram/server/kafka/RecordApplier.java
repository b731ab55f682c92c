package dev.engram.server.kafka;

import dev.engram.core.Engram;
import dev.engram.core.model.AlreadyExistsException;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.TooManySpacesException;
import dev.engram.core.session.Acceptor;
import dev.engram.core.telemetry.Door;
import dev.engram.server.kafka.RecordDecoder.CreateSpace;
import dev.engram.server.kafka.RecordDecoder.Decoded;
import dev.engram.server.kafka.RecordDecoder.Malformed;
import dev.engram.server.kafka.RecordDecoder.Observation;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Hands the records of one partition to the engine, through the engine's one accept path ({@link
 * Engram#remember}: validation, idempotency by id, durable before it returns). Translation and
 * routing only: records are grouped by space (their order within a space is kept) and each group is
 * one {@code remember} batch.
 *
 * <p>A record is <em>handled</em> when it is durable in the store (accepted or a duplicate) or in
 * the dead-letter topic. {@link #apply} reports how many records from the head of the list are
 * handled; the caller advances its offsets by exactly that many and keeps the rest for a retry.
 * Under backpressure ({@link OverloadedException}) or a store failure nothing is refused or
 * dropped: the call stops and says how long to wait.
 *
 * <p>For a follower ({@code deadLetters == null}, a standby) a record the owner dead-letters is
 * simply skipped.
 *
 * <p>Thread-safety: not thread-safe (one per consumer thread); the engine and stats are shared.
 */
final class RecordApplier {
  private static final Logger LOG = Logger.getLogger(RecordApplier.class.getName());

  private final Engram engine;
  private final KafkaOptions options;
  private final DeadLetters deadLetters; // null: a follower; the owner dead-letters
  private final KafkaStats stats;
  private final int maxBatch;

  RecordApplier(Engram engine, KafkaOptions options, DeadLetters deadLetters, KafkaStats stats) {
    this.engine = engine;
    this.options = options;
    this.deadLetters = deadLetters;
    this.stats = stats;
    this.maxBatch = engine.limits().maxBatchSize();
  }

  /** How many records from the head are handled; if not all, how long to wait before retrying. */
  record Applied(int handled, long retryAfterMillis) {}

  /** Stops a pass: the engine or the dead-letter topic cannot take more now. */
  private static final class Stall extends Exception {
    private static final long serialVersionUID = 1L;
    final long millis;

    Stall(long millis) {
      super(null, null, false, false);
      this.millis = millis;
    }
  }

  /** Applies {@code records} (one partition, in offset order). */
  Applied apply(List<ConsumerRecord<String, byte[]>> records) {
    int n = records.size();
    boolean[] done = new boolean[n];
    Decoded[] decoded = new Decoded[n];
    Map<String, List<Integer>> bySpace = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      decoded[i] = RecordDecoder.decode(records.get(i));
      String key = decoded[i] instanceof Malformed ? "" : records.get(i).key();
      bySpace.computeIfAbsent(key, k -> new ArrayList<>()).add(i);
    }
    long retry = 0;
    try {
      for (List<Integer> group : bySpace.values()) {
        applyGroup(records, decoded, group, done);
      }
    } catch (Stall s) {
      retry = Math.max(1, s.millis);
    }
    int handled = 0;
    while (handled < n && done[handled]) {
      handled++;
    }
    return new Applied(handled, retry);
  }

  private void applyGroup(
      List<ConsumerRecord<String, byte[]>> records,
      Decoded[] decoded,
      List<Integer> group,
      boolean[] done)
      throws Stall {
    List<Integer> batch = new ArrayList<>();
    for (int i : group) {
      switch (decoded[i]) {
        case Observation o -> {
          batch.add(i);
          if (batch.size() == maxBatch) {
            remember(records, decoded, batch, done);
            batch = new ArrayList<>();
          }
        }
        case CreateSpace c -> {
          remember(records, decoded, batch, done);
          batch = new ArrayList<>();
          createSpace(records.get(i), c.space());
          done[i] = true;
        }
        case Malformed m -> {
          deadLetter(records.get(i), m.reason());
          done[i] = true;
        }
      }
    }
    remember(records, decoded, batch, done);
  }

  private void createSpace(ConsumerRecord<String, byte[]> record, SpaceConfig space) throws Stall {
    try {
      engine.createSpace(space);
      LOG.info(() -> "kafka: space " + space.id() + " created by a control record");
    } catch (InvalidInputException | AlreadyExistsException | TooManySpacesException e) {
      deadLetter(record, "create-space: " + e.getMessage());
    } catch (EngramException e) {
      LOG.log(Level.WARNING, "kafka: cannot create space " + space.id() + "; will retry", e);
      throw new Stall(1000);
    }
  }

  /** Stores the observations at {@code batch} (all of one space) as one batch. */
  private void remember(
      List<ConsumerRecord<String, byte[]>> records,
      Decoded[] decoded,
      List<Integer> batch,
      boolean[] done)
      throws Stall {
    if (batch.isEmpty()) {
      return;
    }
    SpaceId space = ((Observation) decoded[batch.getFirst()]).space();
    if (!ensureSpace(space, records, batch, done)) {
      return;
    }
    List<Episode> episodes = new ArrayList<>(batch.size());
    for (int i : batch) {
      episodes.add(((Observation) decoded[i]).episode());
    }
    try {
      Acceptor.Remembered r = engine.remember(Door.KAFKA, space, episodes);
      for (int i : batch) {
        done[i] = true;
      }
      stats.stored(r.ids().size() - r.duplicates(), r.duplicates());
    } catch (InvalidInputException e) {
      if (batch.size() == 1) {
        deadLetter(records.get(batch.getFirst()), e.getMessage());
        done[batch.getFirst()] = true;
      } else {
        for (int i : batch) { // find the bad ones; the rest are stored one by one
          remember(records, decoded, List.of(i), done);
        }
      }
    } catch (NotFoundException e) { // deleted since ensureSpace
      for (int i : batch) {
        deadLetter(records.get(i), "unknown space '" + space + "': " + e.getMessage());
        done[i] = true;
      }
    } catch (OverloadedException e) {
      stats.paused();
      throw new Stall(e.retryAfterMillis());
    } catch (EngramException e) {
      LOG.log(Level.WARNING, "kafka: cannot store a batch for " + space + "; will retry", e);
      throw new Stall(1000);
    }
  }

  /**
   * Whether {@code space} exists (creating it with {@code --kafka-auto-create}); if not, the
   * records at {@code batch} are dead-lettered and handled.
   */
  private boolean ensureSpace(
      SpaceId space,
      List<ConsumerRecord<String, byte[]>> records,
      List<Integer> batch,
      boolean[] done)
      throws Stall {
    try {
      engine.getSpace(space);
      return true;
    } catch (NotFoundException e) {
      // below
    }
    SpaceConfig definition = options.definitionFor(space);
    String reason;
    if (definition != null) {
      try {
        engine.createSpace(definition);
        LOG.info(() -> "kafka: space " + space + " auto-created (" + definition + ")");
        return true;
      } catch (InvalidInputException | AlreadyExistsException | TooManySpacesException e) {
        reason = "cannot auto-create space '" + space + "': " + e.getMessage();
      } catch (EngramException e) {
        LOG.log(Level.WARNING, "kafka: cannot create space " + space + "; will retry", e);
        throw new Stall(1000);
      }
    } else {
      reason =
          ("unknown space '%s': define it first (a record with header engram-op: create-space)"
                  + " or run with --kafka-auto-create")
              .formatted(space);
    }
    for (int i : batch) {
      deadLetter(records.get(i), reason);
      done[i] = true;
    }
    return false;
  }

  private void deadLetter(ConsumerRecord<String, byte[]> record, String reason) throws Stall {
    if (deadLetters == null) {
      return; // a follower: the owner dead-letters it
    }
    try {
      deadLetters.send(record, reason);
      stats.deadLettered();
    } catch (DeadLetters.DeliveryFailedException e) {
      LOG.log(Level.WARNING, "kafka: " + e.getMessage() + "; will retry");
      throw new Stall(1000);
    }
  }
}
