package dev.engram.core.consolidate;

import dev.engram.core.space.MemorySpace;
import java.util.Collection;

/**
 * Where the consolidation worker writes changed nodes: the durable store, or nowhere for an
 * in-memory engine.
 *
 * <p>Thread-safety: called by the consolidation worker only.
 */
@FunctionalInterface
public interface AssociationSink {
  /**
   * Writes the current node of each ordinal (or deletes the record of one that has none any more),
   * as one batch, before returning.
   */
  void persist(MemorySpace space, Collection<Integer> ordinals);

  /** Keeps nothing (an in-memory engine). */
  AssociationSink NONE = (space, ordinals) -> {};
}
