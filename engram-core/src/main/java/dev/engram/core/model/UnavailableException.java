package dev.engram.core.model;

/** The server is shutting down or cannot serve now. Maps to {@code UNAVAILABLE}. */
public class UnavailableException extends EngramException {
  private static final long serialVersionUID = 1L;

  public UnavailableException(String message) {
    super(message);
  }
}
