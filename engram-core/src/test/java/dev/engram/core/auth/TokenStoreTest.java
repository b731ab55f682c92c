package dev.engram.core.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.model.PermissionDeniedException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.UnauthenticatedException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class TokenStoreTest {
  private final AtomicReference<Instant> now =
      new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
  private final InstantSource clock = () -> now.get();
  private final TokenStore.Records records = TokenStore.Records.inMemory();
  private final TokenStore store = new TokenStore(records, clock, new SecureRandom());
  private final SpaceId a = SpaceId.of("a");

  @Test
  void issue_thenAuthenticate_secretNotStored() {
    IssuedToken t = store.issue(a, Set.of(Right.READ), null, "reader");
    assertThat(store.authenticate(t.secret())).isEqualTo(t.info());
    assertThat(t.secret()).startsWith("egt_" + t.info().id() + ".");
    String secretPart = t.secret().substring(t.secret().indexOf('.') + 1);
    for (byte[] record : records.loadTokens().values()) {
      assertThat(new String(record, StandardCharsets.ISO_8859_1)).doesNotContain(secretPart);
    }
    assertThat(t.toString()).doesNotContain(secretPart);
    assertThat(store.list()).containsExactly(t.info());
  }

  @Test
  void authenticate_wrongSecretOrUnknown_sameAnswer() {
    IssuedToken t = store.issue(a, Set.of(Right.READ), null, "");
    String wrong = t.secret().substring(0, t.secret().length() - 2) + "xx";
    assertThatThrownBy(() -> store.authenticate(wrong))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessage(TokenStore.NOT_VALID);
    assertThatThrownBy(() -> store.authenticate("egt_0000.abc"))
        .isInstanceOf(UnauthenticatedException.class)
        .hasMessage(TokenStore.NOT_VALID);
  }

  @Test
  void revoke_thenRefused() {
    IssuedToken t = store.issue(a, Set.of(Right.WRITE), null, "");
    store.revoke(t.info().id());
    assertThatThrownBy(() -> store.authenticate(t.secret()))
        .isInstanceOf(UnauthenticatedException.class);
    assertThat(store.list()).isEmpty();
  }

  @Test
  void expiry_injectedClock() {
    IssuedToken t = store.issue(a, Set.of(Right.READ), Duration.ofMinutes(5), "");
    now.set(now.get().plusSeconds(299));
    assertThat(store.authenticate(t.secret()).id()).isEqualTo(t.info().id());
    now.set(now.get().plusSeconds(1));
    assertThatThrownBy(() -> store.authenticate(t.secret()))
        .isInstanceOf(UnauthenticatedException.class);
  }

  @Test
  void reload_fromRecords_keepsTokens() {
    IssuedToken t = store.issue(a, Set.of(Right.ADMIN), Duration.ofDays(1), "ops");
    Optional<String> admin = store.ensureAdmin(Optional.empty());
    TokenStore reopened = new TokenStore(records, clock, new SecureRandom());
    assertThat(reopened.authenticate(t.secret())).isEqualTo(t.info());
    assertThat(reopened.authenticate(admin.orElseThrow()).isAdmin()).isTrue();
    assertThat(reopened.ensureAdmin(Optional.empty())).isEmpty(); // generated only once
  }

  @Test
  void adminFromFile_anyForm() {
    store.ensureAdmin(Optional.of("a-long-admin-token-from-a-file\n"));
    assertThat(store.authenticate("a-long-admin-token-from-a-file").isAdmin()).isTrue();
  }

  @Test
  void authorizer_missingAndForbiddenSpace_sameAnswer() {
    Authorizer auth = new Authorizer(true, store);
    IssuedToken t = store.issue(a, Set.of(Right.READ), null, "");
    Principal p = auth.principal("Bearer " + t.secret());
    auth.require(p, a, Right.READ);
    assertThatThrownBy(() -> auth.require(p, a, Right.WRITE))
        .isInstanceOf(PermissionDeniedException.class)
        .hasMessage("this token may not write memory space 'a'");
    assertThatThrownBy(() -> auth.require(p, SpaceId.of("b"), Right.READ))
        .isInstanceOf(PermissionDeniedException.class)
        .hasMessage("this token may not read memory space 'b'");
    assertThat(auth.maySee(p, a)).isTrue();
    assertThat(auth.maySee(p, SpaceId.of("b"))).isFalse();
    assertThatThrownBy(() -> auth.principal(null)).isInstanceOf(UnauthenticatedException.class);
    assertThat(new Authorizer(false, store).principal(null)).isEqualTo(Principal.UNRESTRICTED);
  }
}
