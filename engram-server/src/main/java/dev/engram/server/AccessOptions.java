package dev.engram.server;

/**
 * Who may use the server and how they prove it. Where the doors listen is {@link
 * dev.engram.server.tls.ListenOptions}; authentication off is refused unless they listen on
 * loopback only.
 *
 * @param auth whether every call (except health, {@code /metrics}, {@code /readyz}) needs a token
 * @param adminToken the admin token (from {@code --admin-token-file}); null: generate one at the
 *     first start and show it once
 */
public record AccessOptions(boolean auth, String adminToken) {
  /** No authentication: the in-process default (tests, embedding), on loopback only. */
  public static final AccessOptions OPEN = new AccessOptions(false, null);
}
