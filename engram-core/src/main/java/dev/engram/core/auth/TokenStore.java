package dev.engram.core.auth;

import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.UnauthenticatedException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Base64;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The tokens: issued, listed, revoked and checked here, persisted through {@link Records} (the
 * {@code tokens} column family of the durable store, or memory).
 *
 * <p>Secrets: a token is {@code egt_<id>.<secret>} where the secret is 256 random bits. Only a
 * salted hash is kept: HMAC-SHA256 keyed with a 128-bit per-token salt over the whole bearer
 * string. That is a key derivation fit for tokens, whose secrets are random (no password stretching
 * is needed for 256 bits); the admin token read from a file is hashed the same way, so it should be
 * long and random too. The check looks the token up by its public id, then compares the hashes with
 * {@link MessageDigest#isEqual} (constant time); an unknown id still computes one hash, so a miss
 * and a wrong secret take the same path.
 *
 * <p>Revoking deletes the record: a revoked token is then as unknown as a forged one. Every failed
 * check gives the same {@link UnauthenticatedException} message.
 *
 * <p>Thread-safety: safe from any thread; records are cached in a concurrent map written through to
 * {@link Records} before the map changes.
 */
public final class TokenStore {
  static final String PREFIX = "egt_";
  static final String NOT_VALID =
      "the token is not valid (unknown, revoked or expired): send Authorization: Bearer <token>";

  /** Durable storage of token records (no secrets in them). */
  public interface Records {
    /** Every record by token id. */
    Map<String, byte[]> loadTokens();

    /** Stores a record durably (synced) before returning. */
    void putToken(String id, byte[] record);

    /** Deletes a record durably (synced) before returning. */
    void removeToken(String id);

    /** Records in memory (an engine without a data directory). */
    static Records inMemory() {
      Map<String, byte[]> map = new ConcurrentHashMap<>();
      return new Records() {
        @Override
        public Map<String, byte[]> loadTokens() {
          return Map.copyOf(map);
        }

        @Override
        public void putToken(String id, byte[] record) {
          map.put(id, record.clone());
        }

        @Override
        public void removeToken(String id) {
          map.remove(id);
        }
      };
    }
  }

  /** A token's stored form: its description plus salt and hash. */
  private record Stored(TokenInfo info, byte[] salt, byte[] hash) {}

  private final Records records;
  private final InstantSource clock;
  private final SecureRandom random;
  private final ConcurrentHashMap<String, Stored> tokens = new ConcurrentHashMap<>();
  private final byte[] decoySalt;

  public TokenStore(Records records, InstantSource clock, SecureRandom random) {
    this.records = records;
    this.clock = clock;
    this.random = random;
    this.decoySalt = randomBytes(16);
    records.loadTokens().forEach((id, bytes) -> tokens.put(id, decode(id, bytes)));
  }

  /**
   * Makes sure an admin token exists. With {@code fromFile}, that string becomes the admin token
   * (replacing any earlier one). Without, one is generated at the first start only.
   *
   * @return the generated admin token's secret (the caller prints it once), or empty
   */
  public Optional<String> ensureAdmin(Optional<String> fromFile) {
    if (fromFile.isPresent()) {
      String secret = fromFile.get().strip();
      if (secret.length() < 16) {
        throw new IllegalArgumentException(
            "the admin token file must hold a token of at least 16 characters");
      }
      store(
          new TokenInfo(TokenInfo.ADMIN_ID, null, Set.of(), "admin", clock.instant(), null),
          secret);
      return Optional.empty();
    }
    if (tokens.containsKey(TokenInfo.ADMIN_ID)) {
      return Optional.empty();
    }
    String secret = newSecret(TokenInfo.ADMIN_ID);
    store(
        new TokenInfo(TokenInfo.ADMIN_ID, null, Set.of(), "admin", clock.instant(), null), secret);
    return Optional.of(secret);
  }

  /**
   * Issues a token for {@code space} (which need not exist yet).
   *
   * @param ttl its lifetime; null or zero: it does not expire
   */
  public IssuedToken issue(SpaceId space, Set<Right> rights, Duration ttl, String name) {
    if (rights.isEmpty()) {
      throw new InvalidFieldException(
          "rights", "is empty: give at least one of read, write, admin");
    }
    if (ttl != null && ttl.isNegative()) {
      throw new InvalidFieldException("ttl_seconds", "must not be negative");
    }
    if (name != null && name.length() > 128) {
      throw new InvalidFieldException("name", "is longer than 128 characters");
    }
    String id = HexFormat.of().formatHex(randomBytes(8));
    Instant now = clock.instant();
    Instant expires = ttl == null || ttl.isZero() ? null : now.plus(ttl);
    TokenInfo info = new TokenInfo(id, space, rights, name, now, expires);
    String secret = newSecret(id);
    store(info, secret);
    return new IssuedToken(info, secret);
  }

  /** Every token, without secrets, oldest first. */
  public List<TokenInfo> list() {
    return tokens.values().stream()
        .map(Stored::info)
        .sorted(Comparator.comparing(TokenInfo::createdAt).thenComparing(TokenInfo::id))
        .toList();
  }

  /**
   * Revokes a token: it is refused from now on.
   *
   * @throws NotFoundException if no token has this id
   * @throws InvalidFieldException for the admin token (replace it with --admin-token-file)
   */
  public TokenInfo revoke(String id) {
    if (TokenInfo.ADMIN_ID.equals(id)) {
      throw new InvalidFieldException(
          "id", "the admin token cannot be revoked: restart with a new --admin-token-file");
    }
    Stored stored = tokens.get(id);
    if (stored == null) {
      throw new NotFoundException(
          "no token has id '%s'".formatted(dev.engram.core.model.Echo.clip(id)));
    }
    records.removeToken(id);
    tokens.remove(id);
    return stored.info();
  }

  /**
   * The token a bearer string stands for.
   *
   * @throws UnauthenticatedException if it is unknown, revoked, expired or wrong (one message)
   */
  public TokenInfo authenticate(String bearer) {
    Stored stored = tokens.get(idOf(bearer));
    byte[] hash = hash(stored == null ? decoySalt : stored.salt(), bearer);
    if (stored == null
        || !MessageDigest.isEqual(hash, stored.hash())
        || stored.info().expiredAt(clock.instant())) {
      throw new UnauthenticatedException(NOT_VALID);
    }
    return stored.info();
  }

  private static String idOf(String bearer) {
    if (bearer.startsWith(PREFIX)) {
      int dot = bearer.indexOf('.');
      if (dot > PREFIX.length()) {
        return bearer.substring(PREFIX.length(), dot);
      }
    }
    return TokenInfo.ADMIN_ID; // an admin token from a file may have any form
  }

  private String newSecret(String id) {
    return PREFIX
        + id
        + "."
        + Base64.getUrlEncoder().withoutPadding().encodeToString(randomBytes(32));
  }

  private void store(TokenInfo info, String secret) {
    byte[] salt = randomBytes(16);
    Stored stored = new Stored(info, salt, hash(salt, secret));
    records.putToken(info.id(), encode(stored));
    tokens.put(info.id(), stored);
  }

  private byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static byte[] hash(byte[] salt, String secret) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(salt, "HmacSHA256"));
      return mac.doFinal(secret.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }

  private static byte[] encode(Stored s) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      TokenInfo t = s.info();
      out.writeByte(1); // format version
      out.write(s.salt());
      out.write(s.hash());
      out.writeUTF(t.space() == null ? "" : t.space().value());
      int mask = 0;
      for (Right r : t.rights()) {
        mask |= 1 << r.ordinal();
      }
      out.writeByte(mask);
      out.writeUTF(t.name());
      out.writeLong(t.createdAt().toEpochMilli());
      out.writeLong(t.expiresAt() == null ? -1 : t.expiresAt().toEpochMilli());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static Stored decode(String id, byte[] record) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(record))) {
      int version = in.readByte();
      if (version != 1) {
        throw new IllegalStateException("token record " + id + " has unknown version " + version);
      }
      byte[] salt = in.readNBytes(16);
      byte[] hash = in.readNBytes(32);
      String space = in.readUTF();
      int mask = in.readByte();
      Set<Right> rights = EnumSet.noneOf(Right.class);
      for (Right r : Right.values()) {
        if ((mask & (1 << r.ordinal())) != 0) {
          rights.add(r);
        }
      }
      String name = in.readUTF();
      Instant created = Instant.ofEpochMilli(in.readLong());
      long expires = in.readLong();
      TokenInfo info =
          new TokenInfo(
              id,
              space.isEmpty() ? null : SpaceId.of(space),
              rights,
              name,
              created,
              expires < 0 ? null : Instant.ofEpochMilli(expires));
      return new Stored(info, salt, hash);
    } catch (IOException e) {
      throw new UncheckedIOException("token record " + id + " is corrupt", e);
    }
  }
}
