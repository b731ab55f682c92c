package dev.engram.server.tls;

/**
 * A TLS file that cannot be used: missing, unreadable, not PEM, or a key that does not match its
 * certificate. The message names the file and the problem, never key material.
 */
public final class TlsException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TlsException(String message) {
    super(message);
  }

  public TlsException(String message, Throwable cause) {
    super(message, cause);
  }
}
