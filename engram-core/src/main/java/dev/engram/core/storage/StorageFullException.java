package dev.engram.core.storage;

import dev.engram.core.model.OverloadedException;

/**
 * The disk holding the data directory is full: nothing of the failed write was stored or
 * acknowledged. Maps to {@code RESOURCE_EXHAUSTED} (it is an {@link OverloadedException}, so unary
 * calls carry retry info); the server keeps running and accepts writes again once there is room.
 */
public final class StorageFullException extends OverloadedException {
  private static final long serialVersionUID = 1L;
  private static final int RETRY_AFTER_MS = 1_000;

  public StorageFullException(String message) {
    super(message, RETRY_AFTER_MS);
  }
}
