package dev.engram.core.space;

import dev.engram.core.model.Episode;
import java.util.Map;

/**
 * An episode's content and metadata: the part of it that a memory space does not keep on its heap
 * when it has a store to read it back from (see {@link Payloads}).
 *
 * @param content the episode's text
 * @param metadata the episode's metadata (unmodified: the map the episode carried)
 */
public record Payload(String content, Map<String, String> metadata) {
  /** The payload of {@code episode}. */
  public static Payload of(Episode episode) {
    return new Payload(episode.content(), episode.metadata());
  }

  /** Approximate heap bytes of this payload (the cache's weight). */
  public int weight() {
    int bytes = 16 + 40 + 2 * content.length() + 48;
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      bytes += 32 + 2 * 40 + 2 * (e.getKey().length() + e.getValue().length());
    }
    return bytes;
  }
}
