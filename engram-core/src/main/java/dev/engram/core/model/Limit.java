package dev.engram.core.model;

import java.util.Locale;

/**
 * The server's configured limits, each named as in the {@code engram_limit_refusals_total{limit}}
 * series: the refusal of an input over one of them carries its {@link Limit} ({@link
 * LimitRefusal}), so every door counts it the same way.
 */
public enum Limit {
  /** A message (or a recall answer) over {@code --max-message-bytes}. */
  MESSAGE_BYTES,
  /** More episodes in one batch than {@code max_batch_size}. */
  BATCH,
  /** A recall {@code k} over {@link Cue#MAX_K}. */
  K,
  /** Episode content over {@link EpisodeValidator#MAX_CONTENT_BYTES}. */
  CONTENT,
  /** Episode metadata over its entry, key or value limits. */
  METADATA,
  /** One more space than {@code --max-spaces}. */
  SPACES,
  /** One more open stream with one token than {@code --max-streams-per-token}. */
  STREAMS_PER_TOKEN,
  /** Observations with one token faster than {@code --token-rate} per second. */
  TOKEN_RATE;

  /** The metric label: the name in lower case. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
