package dev.engram.core.model;

/** A space or session that does not exist (or no longer does). Maps to {@code NOT_FOUND}. */
public class NotFoundException extends EngramException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(String message) {
    super(message);
  }
}
