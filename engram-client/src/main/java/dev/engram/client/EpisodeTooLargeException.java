package dev.engram.client;

/**
 * Thrown by {@link EngramStream#observe} and {@link EngramStream#tryObserve} when one episode,
 * alone, is larger than the largest message the server reads (its advertised {@code
 * max_message_bytes}, 4 MiB until it says otherwise). The episode was not taken; nothing else on
 * the stream is affected. Shrink its content or metadata, or raise the server's {@code
 * --max-message-bytes}.
 */
public final class EpisodeTooLargeException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final long messageBytes;
  private final long limitBytes;

  EpisodeTooLargeException(String episodeId, long messageBytes, long limitBytes) {
    super(
        "episode '%s' needs a %d-byte message, over the server's %d-byte message limit"
                .formatted(episodeId, messageBytes, limitBytes)
            + " (max_message_bytes): it cannot be sent");
    this.messageBytes = messageBytes;
    this.limitBytes = limitBytes;
  }

  /** The size of the smallest message that could carry the episode. */
  public long messageBytes() {
    return messageBytes;
  }

  /** The server's limit. */
  public long limitBytes() {
    return limitBytes;
  }
}
