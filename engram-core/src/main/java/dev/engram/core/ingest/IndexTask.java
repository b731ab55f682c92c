package dev.engram.core.ingest;

import dev.engram.core.space.MemorySpace;

/**
 * One accepted episode waiting for an index worker.
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
  int failures;

  IndexTask(MemorySpace space, int ordinal, long sequence, IndexCallback callback) {
    this.space = space;
    this.ordinal = ordinal;
    this.sequence = sequence;
    this.callback = callback;
  }
}
