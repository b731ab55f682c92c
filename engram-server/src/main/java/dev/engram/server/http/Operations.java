package dev.engram.server.http;

/**
 * What the HTTP door's operations endpoints serve: {@code /metrics} (the Prometheus text format),
 * {@code /healthz} (the process answers) and {@code /readyz} (recovery finished and accepting;
 * {@code 503} while draining or stopped, like the gRPC health service).
 *
 * <p>Thread-safety: implementations are called from any request thread.
 */
public interface Operations {
  /** The metrics in the Prometheus text exposition format. */
  String scrape();

  /** The {@code Content-Type} of {@link #scrape}. */
  String scrapeContentType();

  /** Whether the server accepts work: recovery has finished and it is not draining. */
  boolean ready();

  /** No metrics, always ready: for tests of the doors alone. */
  Operations NONE =
      new Operations() {
        @Override
        public String scrape() {
          return "";
        }

        @Override
        public String scrapeContentType() {
          return "text/plain; version=0.0.4; charset=utf-8";
        }

        @Override
        public boolean ready() {
          return true;
        }
      };
}
