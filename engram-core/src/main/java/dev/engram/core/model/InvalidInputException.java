package dev.engram.core.model;

/**
 * A request or observation that can never succeed as given: a bad id, a wrong dimension, a NaN, an
 * oversize field. Transports map it to {@code INVALID_ARGUMENT} / HTTP 400; its message names the
 * offending field.
 */
public class InvalidInputException extends EngramException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(String message) {
    super(message);
  }
}
