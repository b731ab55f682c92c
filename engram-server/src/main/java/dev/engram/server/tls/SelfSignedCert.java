package dev.engram.server.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code engram cert}: a self-signed certificate and its key, for development. The JDK's {@code
 * keytool} makes an EC P-256 pair in a temporary PKCS#12 store (with a random password); this class
 * writes it out as {@code cert.pem} and {@code key.pem} (PKCS#8, owner-only permissions where the
 * file system has them), which {@code --tls-cert}/{@code --tls-key} and every SDK read.
 *
 * <p>Thread-safety: stateless.
 */
public final class SelfSignedCert {
  /** Names the certificate is valid for when none are given. */
  public static final List<String> DEFAULT_HOSTS = List.of("localhost", "127.0.0.1", "::1");

  private SelfSignedCert() {}

  /** The files written. */
  public record Pair(Path cert, Path key) {}

  /**
   * Writes {@code cert.pem} and {@code key.pem} into {@code dir} (created if missing), valid for
   * {@code hosts} (DNS names or IP addresses; the first is the subject's CN) for 365 days.
   */
  public static Pair write(Path dir, List<String> hosts) throws IOException {
    if (hosts.isEmpty()) {
      throw new IllegalArgumentException("a certificate needs at least one host name");
    }
    Files.createDirectories(dir);
    Path store = Files.createTempFile(dir, ".engram-cert", ".p12");
    byte[] secret = new byte[18];
    new SecureRandom().nextBytes(secret);
    String password = HexFormat.of().formatHex(secret);
    try {
      Files.delete(store); // keytool creates it
      keytool(store, password, hosts);
      KeyStore keys = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(store)) {
        keys.load(in, password.toCharArray());
      }
      Key key = keys.getKey("engram", password.toCharArray());
      Certificate cert = keys.getCertificate("engram");
      Pair pair = new Pair(dir.resolve("cert.pem"), dir.resolve("key.pem"));
      Files.writeString(
          pair.cert(), pem("CERTIFICATE", cert.getEncoded()), StandardCharsets.US_ASCII);
      Files.deleteIfExists(pair.key());
      Files.createFile(pair.key());
      ownerOnly(pair.key());
      Files.writeString(
          pair.key(), pem("PRIVATE KEY", key.getEncoded()), StandardCharsets.US_ASCII);
      return pair;
    } catch (GeneralSecurityException e) {
      throw new IOException(
          "cannot read the pair keytool made: " + e.getClass().getSimpleName(), e);
    } finally {
      Files.deleteIfExists(store);
    }
  }

  private static void keytool(Path store, String password, List<String> hosts) throws IOException {
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    List<String> san = new ArrayList<>();
    for (String host : hosts) {
      san.add((isIpAddress(host) ? "ip:" : "dns:") + host);
    }
    List<String> command =
        List.of(
            keytool.toString(),
            "-genkeypair",
            "-alias",
            "engram",
            "-keyalg",
            "EC",
            "-groupname",
            "secp256r1",
            "-sigalg",
            "SHA256withECDSA",
            "-dname",
            "CN=" + hosts.getFirst().replace(",", "\\,"),
            "-ext",
            "SAN=" + String.join(",", san),
            "-validity",
            "365",
            "-storetype",
            "PKCS12",
            "-keystore",
            store.toString(),
            "-storepass:env",
            "ENGRAM_CERT_PASS",
            "-keypass:env",
            "ENGRAM_CERT_PASS",
            "-noprompt");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("ENGRAM_CERT_PASS", password);
    Process process = builder.start();
    String output;
    try (InputStream in = process.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("keytool did not finish in 60 s");
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while keytool ran", e);
    }
    if (process.exitValue() != 0) {
      throw new IOException("keytool failed (exit " + process.exitValue() + "): " + output.strip());
    }
  }

  private static boolean isIpAddress(String host) {
    return host.contains(":") || host.matches("[0-9.]+");
  }

  private static void ownerOnly(Path file) throws IOException {
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system: the directory's permissions apply
    }
  }

  private static String pem(String type, byte[] der) {
    String body =
        Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }
}
