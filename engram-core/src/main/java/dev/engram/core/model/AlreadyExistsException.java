package dev.engram.core.model;

/** A space created twice with a different definition. Maps to {@code ALREADY_EXISTS}. */
public class AlreadyExistsException extends EngramException {
  private static final long serialVersionUID = 1L;

  public AlreadyExistsException(String message) {
    super(message);
  }
}
