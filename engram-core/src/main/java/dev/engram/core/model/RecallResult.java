package dev.engram.core.model;

import java.util.List;

/**
 * The answer to a recall.
 *
 * @param memories ranked, best first
 * @param indexedThrough the watermark the answer was computed against (session or space)
 * @param tookMicros time spent searching
 */
public record RecallResult(List<Memory> memories, long indexedThrough, long tookMicros) {
  public RecallResult {
    memories = List.copyOf(memories);
  }
}
