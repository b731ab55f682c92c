package dev.engram.core.model;

import java.util.Map;

/**
 * How large one message may be, in either direction, and how many spaces a server holds: the one
 * place these rules live. Transports apply {@link #maxMessageBytes} to their framing (gRPC's
 * inbound message limit) and advertise both limits to stream clients; the engine checks batches and
 * recall answers here.
 *
 * @param maxMessageBytes the largest message the server reads, and the bound on a recall answer it
 *     writes (serialized bytes)
 * @param maxBatchSize the most episodes in one stream batch or one unary {@code Remember}
 * @param maxSpaces the most memory spaces the server holds ({@code --max-spaces})
 * @param maxStreamsPerToken the most streams open at once with one token ({@code
 *     --max-streams-per-token}); 0: no limit. Applies only with authentication on.
 * @param tokenRate the most observations per second one token may send ({@code --token-rate}), a
 *     token bucket holding one second's worth; 0: no limit. Applies only with authentication on.
 */
public record MessageLimits(
    int maxMessageBytes, int maxBatchSize, int maxSpaces, int maxStreamsPerToken, int tokenRate) {
  /** gRPC's own default inbound limit, so a stock client reads every answer the server writes. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;

  public static final int DEFAULT_MAX_BATCH_SIZE = 4096;
  public static final int MIN_MESSAGE_BYTES = 16 << 10;
  public static final int MAX_MESSAGE_BYTES = 1 << 30;
  public static final int MAX_BATCH_SIZE = 65_536;
  public static final int DEFAULT_MAX_SPACES = 10_000;
  public static final int DEFAULT_MAX_STREAMS_PER_TOKEN = 64;

  /** Room kept for a response's own framing (session id, timestamps, counters). */
  private static final int RESPONSE_HEADROOM = 1024;

  /** Per-memory framing beyond its strings: score, confidence, time, tags and lengths. */
  private static final int MEMORY_OVERHEAD = 48;

  public MessageLimits {
    if (maxMessageBytes < MIN_MESSAGE_BYTES || maxMessageBytes > MAX_MESSAGE_BYTES) {
      throw new IllegalArgumentException(
          "maxMessageBytes must be %d-%d, got %d"
              .formatted(MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES, maxMessageBytes));
    }
    if (maxBatchSize < 1 || maxBatchSize > MAX_BATCH_SIZE) {
      throw new IllegalArgumentException(
          "maxBatchSize must be 1-%d, got %d".formatted(MAX_BATCH_SIZE, maxBatchSize));
    }
    if (maxSpaces < 1) {
      throw new IllegalArgumentException("maxSpaces must be at least 1, got " + maxSpaces);
    }
    if (maxStreamsPerToken < 0) {
      throw new IllegalArgumentException(
          "maxStreamsPerToken must be 0 (no limit) or more, got " + maxStreamsPerToken);
    }
    if (tokenRate < 0) {
      throw new IllegalArgumentException(
          "tokenRate must be 0 (no limit) or more, got " + tokenRate);
    }
  }

  /** The default per-token limits. */
  public MessageLimits(int maxMessageBytes, int maxBatchSize, int maxSpaces) {
    this(maxMessageBytes, maxBatchSize, maxSpaces, DEFAULT_MAX_STREAMS_PER_TOKEN, 0);
  }

  /** The default space and per-token limits. */
  public MessageLimits(int maxMessageBytes, int maxBatchSize) {
    this(maxMessageBytes, maxBatchSize, DEFAULT_MAX_SPACES);
  }

  /** These limits with {@code maxMessageBytes} changed. */
  public MessageLimits withMaxMessageBytes(int bytes) {
    return new MessageLimits(bytes, maxBatchSize, maxSpaces, maxStreamsPerToken, tokenRate);
  }

  /** These limits with {@code maxBatchSize} changed. */
  public MessageLimits withMaxBatchSize(int episodes) {
    return new MessageLimits(maxMessageBytes, episodes, maxSpaces, maxStreamsPerToken, tokenRate);
  }

  /** These limits with {@code maxSpaces} changed. */
  public MessageLimits withMaxSpaces(int spaces) {
    return new MessageLimits(maxMessageBytes, maxBatchSize, spaces, maxStreamsPerToken, tokenRate);
  }

  /** These limits with {@code maxStreamsPerToken} changed (0: no limit). */
  public MessageLimits withMaxStreamsPerToken(int streams) {
    return new MessageLimits(maxMessageBytes, maxBatchSize, maxSpaces, streams, tokenRate);
  }

  /** These limits with {@code tokenRate} changed (observations per second; 0: no limit). */
  public MessageLimits withTokenRate(int perSecond) {
    return new MessageLimits(
        maxMessageBytes, maxBatchSize, maxSpaces, maxStreamsPerToken, perSecond);
  }

  public static MessageLimits defaults() {
    return new MessageLimits(DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_BATCH_SIZE);
  }

  /**
   * Checked before a new space is made.
   *
   * @param existing how many spaces there are now
   * @throws TooManySpacesException if one more would pass {@code maxSpaces}
   */
  public void checkNewSpace(int existing) {
    if (existing >= maxSpaces) {
      throw new TooManySpacesException(
          ("this server holds %d memory spaces, its limit (--max-spaces %d): delete one or raise"
                  + " the limit")
              .formatted(existing, maxSpaces));
    }
  }

  /**
   * @throws InvalidInputException if {@code episodes} is more than one message may carry
   */
  public void checkBatch(int episodes) {
    if (episodes > maxBatchSize) {
      throw new LimitExceededException(
          Limit.BATCH,
          "a batch of %d episodes is over the server's max_batch_size of %d: split it"
              .formatted(episodes, maxBatchSize));
    }
  }

  /**
   * Checked before searching: {@code k} embeddings of {@code dimension} floats alone must fit in an
   * answer.
   *
   * @throws InvalidInputException if they cannot
   */
  public void checkRecall(int k, int dimension, boolean includeEmbeddings) {
    if (!includeEmbeddings) {
      return;
    }
    long embeddingBytes = (long) k * (4L * dimension + 8);
    if (embeddingBytes > answerBudget()) {
      throw new LimitExceededException(
          Limit.MESSAGE_BYTES,
          ("k %d with include_embeddings at dimension %d needs about %d bytes of embeddings, over"
                  + " the %d-byte message limit: lower k or leave include_embeddings off")
              .formatted(k, dimension, embeddingBytes, maxMessageBytes));
    }
  }

  /**
   * Checked after searching: the answer, as the client will read it, must fit in one message.
   *
   * @throws InvalidInputException if it does not
   */
  public void checkAnswer(Iterable<Memory> memories) {
    long bytes = 0;
    int count = 0;
    for (Memory m : memories) {
      bytes += estimatedBytes(m.episode());
      count++;
    }
    if (bytes > answerBudget()) {
      throw new LimitExceededException(
          Limit.MESSAGE_BYTES,
          ("the answer (%d memories, about %d bytes) is over the %d-byte message limit: lower k"
                  + " or leave include_embeddings off")
              .formatted(count, bytes, maxMessageBytes));
    }
  }

  private long answerBudget() {
    return maxMessageBytes - RESPONSE_HEADROOM;
  }

  /** An upper estimate of one memory's serialized size. */
  static long estimatedBytes(Episode e) {
    long bytes = MEMORY_OVERHEAD + utf8Length(e.id()) + utf8Length(e.content());
    bytes += e.embedding().length == 0 ? 0 : 4L * e.embedding().length + 6;
    for (Map.Entry<String, String> m : e.metadata().entrySet()) {
      bytes += 8 + utf8Length(m.getKey()) + utf8Length(m.getValue());
    }
    return bytes;
  }

  private static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
