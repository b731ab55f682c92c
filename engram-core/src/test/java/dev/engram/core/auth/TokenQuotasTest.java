package dev.engram.core.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.model.Limit;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.TooManyStreamsException;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TokenQuotasTest {
  private final AtomicLong nanos = new AtomicLong();

  private TokenQuotas quotas(int streams, int rate) {
    return new TokenQuotas(
        MessageLimits.defaults().withMaxStreamsPerToken(streams).withTokenRate(rate), nanos::get);
  }

  private static Principal holder(String id) {
    return new Principal.Holder(
        new TokenInfo(id, SpaceId.of("s"), Set.of(Right.WRITE), "", Instant.EPOCH, null));
  }

  @Test
  void streams_countedPerToken_releasedOnce() {
    TokenQuotas q = quotas(2, 0);
    TokenQuotas.StreamSlot a = q.openStream(holder("t1"));
    q.openStream(holder("t1"));
    q.openStream(holder("t2")); // another token has its own count
    assertThatThrownBy(() -> q.openStream(holder("t1")))
        .isInstanceOf(TooManyStreamsException.class)
        .hasMessageContaining("--max-streams-per-token 2")
        .satisfies(
            e ->
                assertThat(((TooManyStreamsException) e).limit())
                    .isEqualTo(Limit.STREAMS_PER_TOKEN));
    a.release();
    a.release(); // idempotent: frees one slot, not two
    assertThat(q.openStreams("t1")).isEqualTo(1);
    q.openStream(holder("t1"));
    assertThatThrownBy(() -> q.openStream(holder("t1")))
        .isInstanceOf(TooManyStreamsException.class);
  }

  @Test
  void noToken_orZero_noLimit() {
    TokenQuotas q = quotas(1, 10);
    q.openStream(Principal.UNRESTRICTED);
    q.openStream(Principal.UNRESTRICTED);
    assertThat(q.bucket(Principal.UNRESTRICTED)).isSameAs(TokenBucket.UNLIMITED);
    TokenQuotas unlimited = quotas(0, 0);
    unlimited.openStream(holder("t"));
    unlimited.openStream(holder("t"));
    assertThat(unlimited.bucket(holder("t")).take(1_000_000)).isEqualTo(1_000_000);
  }

  @Test
  void bucket_burstOneSecond_refillsAtRate() {
    TokenBucket b = quotas(0, 10).bucket(holder("t"));
    assertThat(b.take(25)).isEqualTo(10); // burst: one second's worth
    assertThat(b.take(1)).isZero();
    assertThat(b.retryAfterMillis(5)).isEqualTo(500);
    nanos.addAndGet(300_000_000L);
    assertThat(b.take(5)).isEqualTo(3);
    b.giveBack(2);
    assertThat(b.take(5)).isEqualTo(2);
    nanos.addAndGet(10_000_000_000L);
    assertThat(b.take(100)).isEqualTo(10); // never more than the burst
  }

  @Test
  void bucket_takeAll_allOrNothing_largerThanBurstWhenFull() {
    TokenBucket b = quotas(0, 10).bucket(holder("t"));
    assertThat(b.takeAll(30)).isTrue(); // full: goes, 20 in debt
    assertThat(b.takeAll(1)).isFalse();
    assertThat(b.retryAfterMillis(1)).isEqualTo(2100);
    nanos.addAndGet(2_100_000_000L);
    assertThat(b.takeAll(2)).isFalse();
    assertThat(b.takeAll(1)).isTrue();
  }
}
