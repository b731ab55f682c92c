package dev.engram.core.index;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * A growable table of fixed-size chunks, indexed by {@code ordinal >>> SHIFT}, so that storage
 * grows while other threads read it and ordinals may arrive in any order.
 *
 * <p>Concurrency: the table is an immutable-once-published {@code Object[]} held in a volatile
 * field. A new chunk is created under {@code this}'s monitor, in a copy of the table that is then
 * published; slots of a published table are never written again. So a reader either sees a chunk
 * fully constructed or sees {@code null}, and a reader that learned of an ordinal through a
 * happens-before edge from its writer (a volatile or release write after {@link #ensure}) always
 * finds the chunk. Growth is rare (once per {@link #SIZE} ordinals) and off the read path.
 *
 * @param <C> the chunk type
 */
final class ChunkTable<C> {
  static final int SHIFT = 10;
  static final int SIZE = 1 << SHIFT;
  static final int MASK = SIZE - 1;

  private final IntFunction<C> factory;
  private volatile Object[] chunks = new Object[0];

  ChunkTable(IntFunction<C> factory) {
    this.factory = factory;
  }

  /** The chunk holding {@code ordinal}, or null if none was created. */
  @SuppressWarnings("unchecked")
  C get(int ordinal) {
    Object[] table = chunks;
    int index = ordinal >>> SHIFT;
    return index < table.length ? (C) table[index] : null;
  }

  /** The chunk holding {@code ordinal}, created if needed. */
  @SuppressWarnings("unchecked")
  C ensure(int ordinal) {
    C chunk = get(ordinal);
    return chunk != null ? chunk : (C) create(ordinal >>> SHIFT);
  }

  private synchronized Object create(int index) {
    Object[] table = chunks;
    if (index < table.length && table[index] != null) {
      return table[index];
    }
    Object[] grown =
        index < table.length
            ? table.clone()
            : Arrays.copyOf(table, Math.max(index + 1, table.length + (table.length >> 1)));
    Object chunk = factory.apply(index);
    grown[index] = chunk;
    chunks = grown;
    return chunk;
  }

  /** Number of chunk slots (created or not); ordinals below {@code slots() * SIZE} may exist. */
  int slots() {
    return chunks.length;
  }

  /** Number of chunks created. */
  int created() {
    int n = 0;
    for (Object chunk : chunks) {
      if (chunk != null) {
        n++;
      }
    }
    return n;
  }
}
