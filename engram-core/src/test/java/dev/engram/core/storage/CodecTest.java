package dev.engram.core.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.Episode;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The episode record's layout: the accepting session is an optional trailing field. */
class CodecTest {
  private static final Instant AT = Instant.parse("2026-01-02T03:04:05.006Z");

  private static Episode episode(String session) {
    return new Episode(
        "d1:3", new float[] {0.6f, 0.8f}, "hello", AT, 0.5f, Map.of("speaker", "ana"), session);
  }

  @Test
  void episode_withSession_roundTrips() {
    byte[] key = Codec.episodeKey(7, "d1:3");
    Codec.StoredEpisode stored = Codec.episode(key, Codec.episodeValue(42, episode("s-1")));

    assertThat(stored.incarnation()).isEqualTo(7);
    assertThat(stored.ordinal()).isEqualTo(42);
    Episode e = stored.episode();
    assertThat(e.id()).isEqualTo("d1:3");
    assertThat(e.embedding()).containsExactly(0.6f, 0.8f);
    assertThat(e.content()).isEqualTo("hello");
    assertThat(e.observedAt()).isEqualTo(AT);
    assertThat(e.confidence()).isEqualTo(0.5f);
    assertThat(e.metadata()).containsExactlyEntriesOf(Map.of("speaker", "ana"));
    assertThat(e.sessionId()).isEqualTo("s-1");
  }

  @Test
  void episode_withoutSession_isWrittenAsBefore_andReadsAsNone() {
    byte[] withSession = Codec.episodeValue(42, episode("s-1"));
    byte[] without = Codec.episodeValue(42, episode(""));

    // A unary write's record is the layout written before sessions were kept: a prefix of the
    // session's record, which ends with the session id (i32 length, UTF-8).
    assertThat(withSession).hasSize(without.length + 4 + 3);
    assertThat(Arrays.copyOf(withSession, without.length)).isEqualTo(without);

    Episode old = Codec.episode(Codec.episodeKey(7, "d1:3"), without).episode();
    assertThat(old.sessionId()).isEmpty();
    assertThat(old.metadata()).containsExactlyEntriesOf(Map.of("speaker", "ana"));
  }
}
