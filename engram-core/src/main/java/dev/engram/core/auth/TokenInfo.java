package dev.engram.core.auth;

import dev.engram.core.model.SpaceId;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * A token as it may be shown: everything but its secret.
 *
 * @param id the token's public id (in listings, the audit log and revocation)
 * @param space the space it is for; null for the admin token, which may do everything
 * @param rights its rights in {@code space} (empty for the admin token)
 * @param name a label chosen at issue (not secret)
 * @param createdAt when it was issued
 * @param expiresAt when it stops being accepted; null: never
 */
public record TokenInfo(
    String id,
    SpaceId space,
    Set<Right> rights,
    String name,
    Instant createdAt,
    Instant expiresAt) {
  /** The admin token's id. */
  public static final String ADMIN_ID = "admin";

  public TokenInfo {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(createdAt, "createdAt");
    rights = rights.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(rights));
    name = name == null ? "" : name;
  }

  /** Whether this is the admin (root) token. */
  public boolean isAdmin() {
    return space == null;
  }

  /** Whether the token holds {@code right} in its space ({@code ADMIN} holds all three). */
  public boolean holds(Right right) {
    return rights.contains(right) || rights.contains(Right.ADMIN);
  }

  /** Whether the token has expired at {@code now}. */
  public boolean expiredAt(Instant now) {
    return expiresAt != null && !now.isBefore(expiresAt);
  }
}
