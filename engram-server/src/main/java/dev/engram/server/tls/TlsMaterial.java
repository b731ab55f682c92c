package dev.engram.server.tls;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The server's TLS files, loaded once and checked before any port opens: the certificate chain
 * (PEM, leaf first), its PKCS#8 private key (PEM; the pair must match) and, for mTLS, the client CA
 * certificates. Gives the same key material to both doors: {@link #grpcCredentials} (grpc-netty)
 * and {@link #jettySslContextFactory} (Jetty 12).
 *
 * <p>Errors name the file and the problem; no exception or log line carries key bytes.
 *
 * <p>Thread-safety: immutable after {@link #load}.
 */
public final class TlsMaterial {
  private static final Pattern PEM =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
  private static final char[] NO_PASSWORD = new char[0];

  private final KeyStore keyStore; // the key and its chain under "engram"
  private final KeyStore trustStore; // client CAs, or null without mTLS

  private TlsMaterial(KeyStore keyStore, KeyStore trustStore) {
    this.keyStore = keyStore;
    this.trustStore = trustStore;
  }

  /**
   * Loads and checks the files of {@code options} ({@link ListenOptions#tlsEnabled} must be true).
   *
   * @throws TlsException naming the file: missing, unreadable, no PEM block of the right kind, or a
   *     key that does not belong to the certificate
   */
  public static TlsMaterial load(ListenOptions options) {
    if (!options.tlsEnabled()) {
      throw new IllegalArgumentException("TLS is off in " + options);
    }
    List<X509Certificate> chain = certificates(options.tlsCert(), "--tls-cert");
    PrivateKey key = privateKey(options.tlsKey());
    checkPair(chain.getFirst(), key, options.tlsCert(), options.tlsKey());
    try {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("engram", key, NO_PASSWORD, chain.toArray(new Certificate[0]));
      KeyStore trust = null;
      if (options.tlsClientCa() != null) {
        trust = trustStore(certificates(options.tlsClientCa(), "--tls-client-ca"));
      }
      return new TlsMaterial(keys, trust);
    } catch (GeneralSecurityException | IOException e) {
      throw new TlsException(
          "cannot build a key store from "
              + options.tlsCert()
              + ": "
              + e.getClass().getSimpleName(),
          e);
    }
  }

  /** Whether clients must present a certificate that chains to the client CA. */
  public boolean clientAuthRequired() {
    return trustStore != null;
  }

  /** gRPC server credentials: TLS 1.2+ with this key; client certificates required under mTLS. */
  public ServerCredentials grpcCredentials() {
    try {
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keyStore, NO_PASSWORD);
      TlsServerCredentials.Builder b =
          TlsServerCredentials.newBuilder().keyManager(kmf.getKeyManagers());
      if (trustStore != null) {
        b.trustManager(trustManagers(trustStore))
            .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (GeneralSecurityException e) {
      throw new TlsException("cannot use the TLS key for gRPC: " + e.getClass().getSimpleName(), e);
    }
  }

  /** Jetty's TLS settings for the HTTP door (REST, WebSocket, console). */
  public SslContextFactory.Server jettySslContextFactory() {
    SslContextFactory.Server factory = new SslContextFactory.Server();
    factory.setKeyStore(keyStore);
    factory.setKeyStorePassword("");
    factory.setKeyManagerPassword("");
    if (trustStore != null) {
      factory.setTrustStore(trustStore);
      factory.setNeedClientAuth(true);
    }
    return factory;
  }

  // ---- PEM helpers, also for clients and tests ----

  /** The certificates in a PEM file, in order. */
  public static List<X509Certificate> certificates(Path file, String option) {
    String text = read(file, option);
    List<X509Certificate> out = new ArrayList<>();
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      Matcher m = PEM.matcher(text);
      while (m.find()) {
        if (m.group(1).equals("CERTIFICATE")) {
          out.add(
              (X509Certificate)
                  factory.generateCertificate(new ByteArrayInputStream(decode(m.group(2), file))));
        }
      }
    } catch (CertificateException e) {
      throw new TlsException(
          option + " " + file + ": not a valid X.509 certificate (" + e.getMessage() + ")", e);
    }
    if (out.isEmpty()) {
      throw new TlsException(
          option + " " + file + ": no PEM certificate (-----BEGIN CERTIFICATE-----) in it");
    }
    return out;
  }

  /** An SSL context that trusts exactly the certificates in {@code caPem} (for clients, tests). */
  public static SSLContext trustingContext(Path caPem) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(
          null, trustManagers(trustStore(certificates(caPem, "CA file"))), new SecureRandom());
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new TlsException("cannot trust " + caPem + ": " + e.getClass().getSimpleName(), e);
    }
  }

  private static KeyStore trustStore(List<X509Certificate> cas)
      throws GeneralSecurityException, IOException {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    for (int i = 0; i < cas.size(); i++) {
      trust.setCertificateEntry("ca-" + i, cas.get(i));
    }
    return trust;
  }

  private static TrustManager[] trustManagers(KeyStore trust) throws GeneralSecurityException {
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    return tmf.getTrustManagers();
  }

  private static PrivateKey privateKey(Path file) {
    String text = read(file, "--tls-key");
    Matcher m = PEM.matcher(text);
    while (m.find()) {
      String type = m.group(1);
      if (type.equals("PRIVATE KEY")) {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(decode(m.group(2), file));
        for (String algorithm : List.of("EC", "RSA", "Ed25519", "EdDSA")) {
          try {
            return KeyFactory.getInstance(algorithm).generatePrivate(spec);
          } catch (GeneralSecurityException e) {
            // try the next algorithm
          }
        }
        throw new TlsException(
            "--tls-key "
                + file
                + ": a PKCS#8 key of an unsupported algorithm (EC, RSA and Ed25519 are supported)");
      }
      if (type.endsWith("PRIVATE KEY")) {
        throw new TlsException(
            "--tls-key %s: a '%s' block; Engram reads unencrypted PKCS#8 keys (BEGIN PRIVATE KEY): convert with 'openssl pkcs8 -topk8 -nocrypt -in %s -out key.pem'"
                .formatted(file, type, file));
      }
    }
    throw new TlsException(
        "--tls-key " + file + ": no PEM private key (-----BEGIN PRIVATE KEY-----) in it");
  }

  /** Signs a challenge with the key and verifies it with the certificate's public key. */
  private static void checkPair(X509Certificate leaf, PrivateKey key, Path certFile, Path keyFile) {
    PublicKey publicKey = leaf.getPublicKey();
    if (!publicKey.getAlgorithm().equals(key.getAlgorithm())
        && !(publicKey.getAlgorithm().startsWith("Ed") && key.getAlgorithm().startsWith("Ed"))) {
      throw mismatch(certFile, keyFile);
    }
    String algorithm =
        switch (key.getAlgorithm()) {
          case "EC" -> "SHA256withECDSA";
          case "RSA" -> "SHA256withRSA";
          default -> "Ed25519";
        };
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(publicKey);
      verifier.update(challenge);
      if (!verifier.verify(signature)) {
        throw mismatch(certFile, keyFile);
      }
    } catch (GeneralSecurityException e) {
      throw mismatch(certFile, keyFile);
    }
  }

  private static TlsException mismatch(Path certFile, Path keyFile) {
    return new TlsException(
        "--tls-key %s does not belong to the certificate in --tls-cert %s (the key cannot sign for it)"
            .formatted(keyFile, certFile));
  }

  private static String read(Path file, String option) {
    try {
      return Files.readString(file, StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new TlsException(option + " " + file + ": no such file", e);
    } catch (AccessDeniedException e) {
      throw new TlsException(option + " " + file + ": not readable (permission denied)", e);
    } catch (IOException e) {
      throw new TlsException(
          option + " " + file + ": cannot be read (" + e.getClass().getSimpleName() + ")", e);
    }
  }

  private static byte[] decode(String base64, Path file) {
    try {
      return Base64.getMimeDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new TlsException(file + ": a PEM block that is not valid base64", e);
    }
  }
}
