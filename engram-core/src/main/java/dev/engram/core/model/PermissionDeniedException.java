package dev.engram.core.model;

/**
 * A valid token without the right for a call. The message never says whether the space exists. Maps
 * to {@code PERMISSION_DENIED} / HTTP 403.
 */
public class PermissionDeniedException extends EngramException {
  private static final long serialVersionUID = 1L;

  public PermissionDeniedException(String message) {
    super(message);
  }
}
