package dev.engram.core.ingest;

import dev.engram.core.space.MemorySpace;
import dev.engram.core.telemetry.Door;

/**
 * One accepted episode waiting for an index worker (or, text only, for the embed stage first).
 *
 * <p>Thread-safety: the final fields are safely published through the worker queues; {@code
 * failures} is touched only by the worker that holds the task and, after that worker died, by the
 * supervisor, so the thread hand-off orders the accesses.
 */
final class IndexTask {
  final MemorySpace space;
  final int ordinal;
  final long sequence;
  final IndexCallback callback;
  final Door door; // the door the episode came in through (metrics)
  final long acceptedNanos; // when it was accepted, on the queue's nano clock (index lag)
  int failures;
  boolean finished; // the embed stage's: handed on or given up (by the thread holding the task)

  IndexTask(
      MemorySpace space,
      int ordinal,
      long sequence,
      IndexCallback callback,
      Door door,
      long acceptedNanos) {
    this.space = space;
    this.ordinal = ordinal;
    this.sequence = sequence;
    this.callback = callback;
    this.door = door;
    this.acceptedNanos = acceptedNanos;
  }
}
