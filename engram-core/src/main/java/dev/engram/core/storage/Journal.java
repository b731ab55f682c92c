package dev.engram.core.storage;

/**
 * Where the accept path records what it changed before it acknowledges: {@link #begin} a {@link
 * WriteSet}, record into it, {@link WriteSet#commit} it, then ack.
 *
 * <p>Thread-safety: implementations are safe from any thread.
 */
@FunctionalInterface
public interface Journal {

  /** A new, empty write set. */
  WriteSet begin();

  /** No persistence: write sets record nothing and commit at once. */
  Journal IN_MEMORY = WriteSet::inMemory;
}
