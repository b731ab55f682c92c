package dev.engram.core.model;

/**
 * Outcome codes carried in rejections and stream errors. The numbers are the gRPC status code
 * numbers, so every transport can pass them through unchanged.
 */
public enum StatusCode {
  OK(0),
  INVALID_ARGUMENT(3),
  NOT_FOUND(5),
  ALREADY_EXISTS(6),
  PERMISSION_DENIED(7),
  RESOURCE_EXHAUSTED(8),
  FAILED_PRECONDITION(9),
  ABORTED(10),
  INTERNAL(13),
  UNAVAILABLE(14),
  UNAUTHENTICATED(16);

  private final int number;

  StatusCode(int number) {
    this.number = number;
  }

  /** The gRPC status code number. */
  public int number() {
    return number;
  }

  /** The code a domain failure maps to. */
  public static StatusCode of(EngramException e) {
    return switch (e) {
      case InvalidInputException ignored -> INVALID_ARGUMENT;
      case NotFoundException ignored -> NOT_FOUND;
      case AlreadyExistsException ignored -> ALREADY_EXISTS;
      case OverloadedException ignored -> RESOURCE_EXHAUSTED;
      case TooManySpacesException ignored -> RESOURCE_EXHAUSTED;
      case TooManyStreamsException ignored -> RESOURCE_EXHAUSTED;
      case UnavailableException ignored -> UNAVAILABLE;
      case UnauthenticatedException ignored -> UNAUTHENTICATED;
      case PermissionDeniedException ignored -> PERMISSION_DENIED;
      default -> INTERNAL;
    };
  }
}
