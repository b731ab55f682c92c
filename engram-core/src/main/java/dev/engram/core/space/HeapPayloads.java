package dev.engram.core.space;

import dev.engram.core.model.Episode;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Payloads on the heap, by ordinal: the only copy for a space without a store.
 *
 * <p>Thread-safety: a {@link ConcurrentHashMap}.
 */
final class HeapPayloads implements Payloads {
  private final ConcurrentHashMap<Integer, Payload> payloads = new ConcurrentHashMap<>();

  @Override
  public void stored(int ordinal, Episode episode) {
    payloads.put(ordinal, Payload.of(episode));
  }

  @Override
  public Payload read(int ordinal, String id) {
    return payloads.get(ordinal);
  }

  @Override
  public void removed(int ordinal) {
    payloads.remove(ordinal);
  }
}
