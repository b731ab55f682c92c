package dev.engram.client;

/**
 * Thrown by {@link EngramStream#observe} when the stream's in-flight buffer is full: immediately
 * under {@link FullPolicy#FAIL_FAST}, after the configured wait under {@link FullPolicy#BLOCK}. The
 * observation was not taken; the caller may retry it later or drop it.
 */
public final class BufferFullException extends RuntimeException {
  private final int capacity;

  BufferFullException(int capacity, String message) {
    super(message);
    this.capacity = capacity;
  }

  /** The buffer's capacity (observations). */
  public int capacity() {
    return capacity;
  }
}
