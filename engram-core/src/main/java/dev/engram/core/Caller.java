package dev.engram.core;

import dev.engram.core.auth.Authorizer;
import dev.engram.core.auth.IssuedToken;
import dev.engram.core.auth.Principal;
import dev.engram.core.auth.Right;
import dev.engram.core.auth.TokenInfo;
import dev.engram.core.model.Episode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.session.Acceptor;
import dev.engram.core.telemetry.Door;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The engine as one authenticated caller may use it: every unary call of every door goes through
 * here, which asks the {@link Authorizer} first (before the space is looked up, so a missing space
 * and a forbidden one answer alike), then calls the engine, then writes administrative actions to
 * the audit log. Obtained from {@link Engram#caller}.
 *
 * <p>Thread-safety: immutable; safe from any thread.
 */
public final class Caller {
  private final Engram engine;
  private final Authorizer auth;
  private final Principal principal;

  Caller(Engram engine, Authorizer auth, Principal principal) {
    this.engine = engine;
    this.auth = auth;
    this.principal = principal;
  }

  public Principal principal() {
    return principal;
  }

  public SpaceInfo createSpace(SpaceConfig space) {
    auth.requireAdmin(principal, "create spaces");
    SpaceInfo info = engine.createSpace(space);
    audit("space.created", Map.of("space", space.id().value()));
    return info;
  }

  public SpaceInfo getSpace(SpaceId id) {
    auth.require(principal, id, Right.READ);
    return engine.getSpace(id);
  }

  /** The spaces this caller may see. */
  public List<SpaceInfo> listSpaces() {
    return engine.listSpaces().stream()
        .filter(s -> auth.maySee(principal, s.config().id()))
        .toList();
  }

  public void deleteSpace(SpaceId id) {
    auth.require(principal, id, Right.ADMIN);
    engine.deleteSpace(id);
    audit("space.deleted", Map.of("space", id.value()));
  }

  public Acceptor.Remembered remember(Door door, SpaceId id, List<Episode> episodes) {
    auth.require(principal, id, Right.WRITE);
    return engine.remember(door, id, episodes, principal);
  }

  public RecallResult recall(Door door, SpaceId id, RecallQuery query) {
    auth.require(principal, id, Right.READ);
    return engine.recall(door, id, query);
  }

  public int forget(SpaceId id, List<String> ids) {
    auth.require(principal, id, Right.ADMIN);
    int forgotten = engine.forget(id, ids);
    audit(
        "episodes.forgotten",
        Map.of(
            "space",
            id.value(),
            "requested",
            Integer.toString(ids.size()),
            "forgotten",
            Integer.toString(forgotten)));
    return forgotten;
  }

  /** The stored episode with this id, or null. */
  public Episode episode(SpaceId space, String id) {
    auth.require(principal, space, Right.READ);
    return engine.episode(space, id);
  }

  // ---- tokens (admin only) ----

  public IssuedToken issueToken(SpaceId space, Set<Right> rights, Duration ttl, String name) {
    auth.requireAdmin(principal, "issue tokens");
    IssuedToken issued = auth.tokens().issue(space, rights, ttl, name);
    TokenInfo t = issued.info();
    audit(
        "token.issued",
        Map.of(
            "token",
            t.id(),
            "space",
            space.value(),
            "rights",
            t.rights().toString(),
            "expires",
            t.expiresAt() == null ? "never" : t.expiresAt().toString()));
    return issued;
  }

  public List<TokenInfo> listTokens() {
    auth.requireAdmin(principal, "list tokens");
    return auth.tokens().list();
  }

  public void revokeToken(String id) {
    auth.requireAdmin(principal, "revoke tokens");
    TokenInfo revoked = auth.tokens().revoke(id);
    audit("token.revoked", Map.of("token", revoked.id()));
  }

  private void audit(String action, Map<String, String> details) {
    engine.audit().record(principal.actor(), action, details);
  }
}
