package dev.engram.core.model;

/**
 * A field of a request that cannot be translated into the model at all: a time outside the range a
 * timestamp may hold, an enum value this server does not know. Thrown by the transports' mappers
 * and answered like any other invalid input ({@code INVALID_ARGUMENT} / HTTP 400), its message
 * starting with the field's name.
 */
public class InvalidFieldException extends InvalidInputException {
  private static final long serialVersionUID = 1L;
  private final String field;

  /**
   * @param field the field's name as on the wire, e.g. {@code observed_at} or {@code flow.action}
   * @param problem what is wrong with it
   */
  public InvalidFieldException(String field, String problem) {
    super(field + ": " + problem);
    this.field = field;
  }

  /** The field's name as on the wire. */
  public String field() {
    return field;
  }
}
