package dev.engram.core.storage;

import dev.engram.core.model.UnavailableException;

/**
 * The store could not complete a write or a read (I/O error, store closed, a write that a duplicate
 * depended on failed). Nothing of the failed write was acknowledged. Maps to {@code UNAVAILABLE}:
 * the client retries or resumes later.
 */
public final class StorageFailedException extends UnavailableException {
  private static final long serialVersionUID = 1L;

  public StorageFailedException(String message) {
    super(message);
  }
}
