package dev.engram.server.tls;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Where and how the server listens: the address both doors bind (gRPC and HTTP), the PEM files that
 * turn TLS on, and whether plaintext is allowed off loopback.
 *
 * <p>The rule this value carries: plaintext on an address other people can reach is refused unless
 * {@code allowPlaintext} says it was meant ({@link #checkPlaintext}).
 *
 * <p>Thread-safety: immutable.
 *
 * @param bindAddress host name or IP address both listeners bind (default {@value #DEFAULT_BIND};
 *     {@code 0.0.0.0} binds every interface)
 * @param tlsCert PEM certificate chain (leaf first), or null for plaintext
 * @param tlsKey PEM PKCS#8 private key of the leaf certificate; set exactly when {@code tlsCert} is
 * @param tlsClientCa PEM certificates of the CAs client certificates must chain to (mTLS required),
 *     or null for no client certificates; only with {@code tlsCert}
 * @param allowPlaintext whether plaintext is allowed on a non-loopback address
 */
public record ListenOptions(
    String bindAddress, Path tlsCert, Path tlsKey, Path tlsClientCa, boolean allowPlaintext) {
  public static final String DEFAULT_BIND = "127.0.0.1";

  public ListenOptions {
    Objects.requireNonNull(bindAddress, "bindAddress");
    if (bindAddress.isBlank()) {
      throw new IllegalArgumentException("--bind needs an address, got ''");
    }
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException(
          "--tls-cert and --tls-key go together (got only "
              + (tlsCert == null ? "--tls-key" : "--tls-cert")
              + ")");
    }
    if (tlsClientCa != null && tlsCert == null) {
      throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
    }
  }

  /** Plaintext on {@value #DEFAULT_BIND}: the default, and what tests use. */
  public static ListenOptions loopback() {
    return new ListenOptions(DEFAULT_BIND, null, null, null, false);
  }

  public ListenOptions withBind(String address) {
    return new ListenOptions(address, tlsCert, tlsKey, tlsClientCa, allowPlaintext);
  }

  public ListenOptions withTls(Path cert, Path key) {
    return new ListenOptions(bindAddress, cert, key, tlsClientCa, allowPlaintext);
  }

  public ListenOptions withClientCa(Path clientCa) {
    return new ListenOptions(bindAddress, tlsCert, tlsKey, clientCa, allowPlaintext);
  }

  public ListenOptions withAllowPlaintext(boolean allow) {
    return new ListenOptions(bindAddress, tlsCert, tlsKey, tlsClientCa, allow);
  }

  public boolean tlsEnabled() {
    return tlsCert != null;
  }

  /** The client CA file, when client certificates are required. */
  public Optional<Path> clientCa() {
    return Optional.ofNullable(tlsClientCa);
  }

  /**
   * Whether only this machine can reach the listeners: the bind address resolves to a loopback
   * address ({@code 127.0.0.0/8}, {@code ::1}, {@code localhost}). An address that does not resolve
   * counts as not loopback.
   */
  public boolean loopbackOnly() {
    try {
      for (InetAddress address : InetAddress.getAllByName(bindAddress)) {
        if (!address.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * Refuses plaintext where others can listen in.
   *
   * @throws IllegalArgumentException naming {@code --tls-cert} and {@code --allow-plaintext} when
   *     TLS is off, the bind address is not loopback and plaintext was not allowed
   */
  public void checkPlaintext() {
    if (!tlsEnabled() && !allowPlaintext && !loopbackOnly()) {
      throw new IllegalArgumentException(
          ("refusing plaintext on %s, which is not a loopback address: give --tls-cert FILE and"
                  + " --tls-key FILE, or --allow-plaintext if the network is trusted")
              .formatted(bindAddress));
    }
  }
}
