package dev.engram.core.model;

/**
 * A call without a valid token (none, unknown, revoked or expired: one answer for all, so a caller
 * learns nothing about which). Maps to {@code UNAUTHENTICATED} / HTTP 401.
 */
public class UnauthenticatedException extends EngramException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(String message) {
    super(message);
  }
}
