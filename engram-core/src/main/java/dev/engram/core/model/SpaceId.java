package dev.engram.core.model;

import java.util.regex.Pattern;

/**
 * The name of a memory space: 1–64 characters of {@code [a-z0-9_-]}.
 *
 * @param value the validated name
 */
public record SpaceId(String value) {
  private static final Pattern SYNTAX = Pattern.compile("[a-z0-9_-]{1,64}");

  public SpaceId {
    if (value == null || value.isEmpty()) {
      throw new InvalidInputException("memory_space_id is required");
    }
    if (!SYNTAX.matcher(value).matches()) {
      throw new InvalidInputException(
          "memory_space_id '%s' is invalid: use 1-64 characters of [a-z0-9_-]"
              .formatted(Echo.clip(value)));
    }
  }

  public static SpaceId of(String value) {
    return new SpaceId(value);
  }

  @Override
  public String toString() {
    return value;
  }
}
