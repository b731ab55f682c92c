package dev.engram.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EpisodeValidatorTest {
  private static final SpaceConfig COSINE = new SpaceConfig(SpaceId.of("s"), 3, Metric.COSINE);
  private static final SpaceConfig L2 = new SpaceConfig(SpaceId.of("s"), 3, Metric.L2);
  private static final Instant NOW = Instant.parse("2026-11-27T00:00:00Z");

  private static Episode episode(String id, float[] v) {
    return new Episode(id, v, "text", Instant.EPOCH, 0f, Map.of());
  }

  @Test
  void validate_cosine_normalisesAndDefaults() {
    Episode valid =
        EpisodeValidator.validate(COSINE, episode("", new float[] {3, 0, 4}), "session/7", NOW);
    assertThat(valid.id()).isEqualTo("session/7");
    assertThat(valid.embedding()).containsExactly(0.6f, 0f, 0.8f);
    assertThat(valid.confidence()).isEqualTo(1.0f);
    assertThat(valid.observedAt()).isEqualTo(NOW);
  }

  @Test
  void validate_l2_keepsVector() {
    Episode valid = EpisodeValidator.validate(L2, episode("a", new float[] {3, 0, 4}), "x", NOW);
    assertThat(valid.embedding()).containsExactly(3f, 0f, 4f);
  }

  @Test
  void validate_badInput_messageNamesTheProblem() {
    assertThatThrownBy(() -> EpisodeValidator.validate(L2, episode("a", new float[2]), "x", NOW))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("dimension 2")
        .hasMessageContaining("dimension 3");
    assertThatThrownBy(
            () ->
                EpisodeValidator.validate(
                    L2, episode("a", new float[] {1, Float.POSITIVE_INFINITY, 0}), "x", NOW))
        .hasMessageContaining("embedding[1]");
    assertThatThrownBy(
            () -> EpisodeValidator.validate(COSINE, episode("a", new float[3]), "x", NOW))
        .hasMessageContaining("all zeros");
    assertThatThrownBy(
            () ->
                EpisodeValidator.validate(L2, episode("a\u0001", new float[] {1, 2, 3}), "x", NOW))
        .hasMessageContaining("control character");
    assertThatThrownBy(
            () -> EpisodeValidator.validate(L2, episode("x".repeat(257), new float[3]), "x", NOW))
        .hasMessageContaining("length 257");
    Episode big = new Episode("a", new float[3], "é".repeat(40_000), Instant.EPOCH, 0f, Map.of());
    assertThatThrownBy(() -> EpisodeValidator.validate(L2, big, "x", NOW))
        .hasMessageContaining("80000 bytes");
    Map<String, String> metadata = new HashMap<>();
    for (int i = 0; i < 65; i++) {
      metadata.put("k" + i, "v");
    }
    Episode tagged = new Episode("a", new float[3], "", Instant.EPOCH, 0f, metadata);
    assertThatThrownBy(() -> EpisodeValidator.validate(L2, tagged, "x", NOW))
        .hasMessageContaining("65 entries");
    Episode unsure = new Episode("a", new float[3], "", Instant.EPOCH, 1.5f, Map.of());
    assertThatThrownBy(() -> EpisodeValidator.validate(L2, unsure, "x", NOW))
        .hasMessageContaining("confidence");
  }

  @Test
  void spaceId_syntax() {
    assertThat(SpaceId.of("agent-1_x").value()).isEqualTo("agent-1_x");
    assertThatThrownBy(() -> SpaceId.of("")).hasMessageContaining("required");
    assertThatThrownBy(() -> SpaceId.of("A")).hasMessageContaining("[a-z0-9_-]");
    assertThatThrownBy(() -> SpaceId.of("a".repeat(65))).hasMessageContaining("1-64");
  }
}
