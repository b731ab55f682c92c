package dev.engram.core.model;

/** A refusal caused by a configured {@link Limit}; the doors count it per limit. */
public sealed interface LimitRefusal
    permits LimitExceededException,
        TooManySpacesException,
        TooManyStreamsException,
        TokenRateExceededException {
  Limit limit();
}
