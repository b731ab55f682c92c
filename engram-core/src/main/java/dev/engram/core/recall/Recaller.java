package dev.engram.core.recall;

import dev.engram.core.model.Cue;
import dev.engram.core.model.Memory;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.space.MemorySpace;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Answers recalls: turns a query into a cue for its space, searches the space (index and fresh
 * segment) and ranks. Streams and unary calls both come here.
 *
 * <p>Ranking today is similarity; {@code ASSOCIATIVE} mode ranks the same way until association
 * edges exist (consolidation).
 *
 * <p>Thread-safety: stateless apart from the injected clock; safe from any thread.
 */
public final class Recaller {
  private final LongSupplier nanoClock;

  public Recaller(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /**
   * Recalls from {@code space}.
   *
   * @param indexedThrough the watermark to report with the answer
   * @throws dev.engram.core.model.InvalidInputException if the query does not fit the space
   */
  public RecallResult recall(MemorySpace space, RecallQuery query, long indexedThrough) {
    long start = nanoClock.getAsLong();
    Cue cue = query.toCue(space.config());
    List<Memory> memories = space.recall(cue.embedding(), cue.k(), cue.minScore());
    long tookMicros = (nanoClock.getAsLong() - start) / 1_000;
    return new RecallResult(memories, indexedThrough, tookMicros);
  }
}
