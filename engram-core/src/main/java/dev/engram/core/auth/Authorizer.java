package dev.engram.core.auth;

import dev.engram.core.model.PermissionDeniedException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.UnauthenticatedException;
import java.util.Locale;

/**
 * The one place access rules live: who a call's credentials name ({@link #principal}), and whether
 * that principal may do an action in a space ({@link #require}).
 *
 * <p>Rules: the admin token may do everything, including creating spaces and managing tokens
 * ({@link #requireAdmin}); a space token may do what its rights say in its own space and nothing
 * elsewhere ({@code READ}: recall, read episodes and the space; {@code WRITE}: remember and stream
 * observations; {@code ADMIN}: both, plus forget and delete the space). With authentication off
 * every call is allowed.
 *
 * <p>No existence hints: the rights are checked before the space is looked up, and the answer names
 * only the space the caller sent, so a missing space and a forbidden one give the same {@code
 * PERMISSION_DENIED} with the same message, through the same path.
 *
 * <p>Thread-safety: immutable apart from the token store, which is thread-safe.
 */
public final class Authorizer {
  static final String NO_TOKEN =
      "this call needs a token: send the header Authorization: Bearer <token>";

  private final boolean enabled;
  private final TokenStore tokens;

  /**
   * @param enabled whether calls must carry a token
   * @param tokens the tokens (also used when disabled, for the token calls)
   */
  public Authorizer(boolean enabled, TokenStore tokens) {
    this.enabled = enabled;
    this.tokens = tokens;
  }

  /** Whether calls must carry a token. */
  public boolean enabled() {
    return enabled;
  }

  public TokenStore tokens() {
    return tokens;
  }

  /**
   * Who a call's credentials name.
   *
   * @param authorization the {@code Authorization} value ({@code Bearer <token>}, or the bare token
   *     from a stream's init), or null/empty when the call carried none
   * @throws UnauthenticatedException when authentication is on and the token is missing or invalid
   */
  public Principal principal(String authorization) {
    if (!enabled) {
      return Principal.UNRESTRICTED;
    }
    if (authorization == null || authorization.isBlank()) {
      throw new UnauthenticatedException(NO_TOKEN);
    }
    String value = authorization.strip();
    if (value.regionMatches(true, 0, "bearer ", 0, 7)) {
      value = value.substring(7).strip();
    }
    if (value.isEmpty()) {
      throw new UnauthenticatedException(NO_TOKEN);
    }
    return new Principal.Holder(tokens.authenticate(value));
  }

  /**
   * Checks that {@code principal} holds {@code right} in {@code space}. Call it before looking the
   * space up.
   *
   * @throws PermissionDeniedException otherwise (the same for a space that does not exist)
   */
  public void require(Principal principal, SpaceId space, Right right) {
    if (!allows(principal, space, right)) {
      throw new PermissionDeniedException(
          "this token may not %s memory space '%s'".formatted(verb(right), space));
    }
  }

  /**
   * Checks that {@code principal} may open a stream on {@code space}: any right there (the frames
   * are then checked one by one: observations need {@code WRITE}, recalls {@code READ}).
   */
  public void requireAny(Principal principal, SpaceId space) {
    if (!allows(principal, space, Right.READ) && !allows(principal, space, Right.WRITE)) {
      throw new PermissionDeniedException(
          "this token may not open a stream on memory space '%s'".formatted(space));
    }
  }

  /**
   * Checks that {@code principal} is the admin token (or authentication is off).
   *
   * @param what the action, for the message ("create spaces")
   */
  public void requireAdmin(Principal principal, String what) {
    if (!isAdmin(principal)) {
      throw new PermissionDeniedException("only the admin token may " + what);
    }
  }

  /** Whether {@code principal} may see {@code space} in a listing. */
  public boolean maySee(Principal principal, SpaceId space) {
    return allows(principal, space, Right.READ)
        || allows(principal, space, Right.WRITE)
        || allows(principal, space, Right.ADMIN);
  }

  /** Whether {@code principal} holds {@code right} in {@code space}. */
  public boolean allows(Principal principal, SpaceId space, Right right) {
    return switch (principal) {
      case Principal.Unrestricted u -> true;
      case Principal.Holder h ->
          h.token().isAdmin() || (h.token().space().equals(space) && h.token().holds(right));
    };
  }

  private static boolean isAdmin(Principal principal) {
    return switch (principal) {
      case Principal.Unrestricted u -> true;
      case Principal.Holder h -> h.token().isAdmin();
    };
  }

  private static String verb(Right right) {
    return right == Right.ADMIN ? "administer" : right.name().toLowerCase(Locale.ROOT);
  }
}
