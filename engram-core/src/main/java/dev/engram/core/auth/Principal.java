package dev.engram.core.auth;

/**
 * Who makes a call: anyone (authentication is off) or the holder of a token.
 *
 * <p>Thread-safety: immutable.
 */
public sealed interface Principal {
  /** Authentication is off: every call is allowed. */
  Principal UNRESTRICTED = new Unrestricted();

  /** The id written to the audit log ("-" when authentication is off). */
  String actor();

  /** Authentication is off. */
  record Unrestricted() implements Principal {
    @Override
    public String actor() {
      return "-";
    }
  }

  /** A valid token. */
  record Holder(TokenInfo token) implements Principal {
    @Override
    public String actor() {
      return token.id();
    }
  }
}
