package dev.engram.server;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Who may reach the server and how they prove it.
 *
 * @param auth whether every call (except health, {@code /metrics}, {@code /readyz}) needs a token
 * @param adminToken the admin token (from {@code --admin-token-file}); null: generate one at the
 *     first start and show it once
 * @param bind the address both doors listen on; null: every interface
 */
public record AccessOptions(boolean auth, String adminToken, String bind) {
  /** No authentication, every interface: the in-process default (tests, embedding). */
  public static final AccessOptions OPEN = new AccessOptions(false, null, null);

  /**
   * Refuses authentication off on an address other hosts can reach.
   *
   * @throws IllegalArgumentException for {@code auth} off with a bind that is not loopback
   */
  public AccessOptions {
    if (!auth && !isLoopback(bind) && bind != null) {
      throw new IllegalArgumentException(
          "--auth off is allowed only on a loopback address, but --bind is " + bind);
    }
  }

  /** Whether {@code host} resolves to a loopback address (null: every interface, which is not). */
  public static boolean isLoopback(String host) {
    if (host == null) {
      return false;
    }
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("--bind: unknown address '" + host + "'");
    }
  }
}
