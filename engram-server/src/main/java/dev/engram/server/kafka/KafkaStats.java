package dev.engram.server.kafka;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of what the Kafka consumer did, read by metrics and logs.
 *
 * <p>Thread-safety: safe from any thread.
 */
public final class KafkaStats {
  private final LongAdder stored = new LongAdder();
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder deadLettered = new LongAdder();
  private final LongAdder pauses = new LongAdder();

  void stored(int accepted, int duplicate) {
    stored.add(accepted);
    duplicates.add(duplicate);
  }

  void deadLettered() {
    deadLettered.increment();
  }

  void paused() {
    pauses.increment();
  }

  /** Records stored as new episodes. */
  public long stored() {
    return stored.sum();
  }

  /** Records whose episode id was already stored (redelivery, replay, a standby's copy). */
  public long duplicates() {
    return duplicates.sum();
  }

  /** Records copied to the dead-letter topic. */
  public long deadLetteredCount() {
    return deadLettered.sum();
  }

  /** Times a partition was paused because the engine's queue was full. */
  public long pauses() {
    return pauses.sum();
  }
}
