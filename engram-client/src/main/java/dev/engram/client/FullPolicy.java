package dev.engram.client;

/** What {@link EngramStream#observe} does when the in-flight buffer is full. */
public enum FullPolicy {
  /** Wait for room, up to the configured timeout, then throw {@link BufferFullException}. */
  BLOCK,
  /** Throw {@link BufferFullException} at once. */
  FAIL_FAST
}
