package dev.engram.server.http;

import java.time.Duration;

/**
 * How the HTTP door listens and how it treats WebSocket clients.
 *
 * @param port the port (0 picks a free one); use {@link #DISABLED} to run without HTTP
 * @param maxOutboundBytes the most a WebSocket may have queued for its client (frames written but
 *     not yet taken by the client, and frames waiting behind them); past it the socket is closed
 *     with 1008. Reads stop at half of it until the client catches up.
 * @param keepAlive how often an idle WebSocket is pinged; also how long a socket whose client has
 *     stopped reading may keep half its outbound bound filled before it is closed with 1008
 * @param consoleDirectory classpath directory served at {@code /} (skipped when absent)
 */
public record HttpOptions(
    int port, long maxOutboundBytes, Duration keepAlive, String consoleDirectory) {
  /** The default HTTP port. */
  public static final int DEFAULT_PORT = 7432;

  /** The port value that turns the HTTP door off. */
  public static final int DISABLED = -1;

  public static final long DEFAULT_MAX_OUTBOUND_BYTES = 16L << 20;
  public static final Duration DEFAULT_KEEP_ALIVE = Duration.ofSeconds(15);

  public HttpOptions {
    if (port < DISABLED || port > 65535) {
      throw new IllegalArgumentException("port must be -1 (off) or 0-65535, got " + port);
    }
    if (maxOutboundBytes < 1024) {
      throw new IllegalArgumentException(
          "maxOutboundBytes must be at least 1024, got " + maxOutboundBytes);
    }
    if (keepAlive.isNegative() || keepAlive.isZero()) {
      throw new IllegalArgumentException("keepAlive must be positive, got " + keepAlive);
    }
    if (!consoleDirectory.startsWith("/")) {
      throw new IllegalArgumentException(
          "consoleDirectory must be an absolute classpath path, got '" + consoleDirectory + "'");
    }
  }

  /** The defaults on {@code port}. */
  public static HttpOptions onPort(int port) {
    return new HttpOptions(port, DEFAULT_MAX_OUTBOUND_BYTES, DEFAULT_KEEP_ALIVE, "/console");
  }

  /** No HTTP door. */
  public static HttpOptions disabled() {
    return onPort(DISABLED);
  }

  public boolean enabled() {
    return port != DISABLED;
  }

  public HttpOptions withMaxOutboundBytes(long bytes) {
    return new HttpOptions(port, bytes, keepAlive, consoleDirectory);
  }

  public HttpOptions withKeepAlive(Duration interval) {
    return new HttpOptions(port, maxOutboundBytes, interval, consoleDirectory);
  }

  public HttpOptions withConsoleDirectory(String directory) {
    return new HttpOptions(port, maxOutboundBytes, keepAlive, directory);
  }
}
