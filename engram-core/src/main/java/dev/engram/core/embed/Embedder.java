package dev.engram.core.embed;

import java.util.List;

/**
 * A text embedding model the server runs itself, so that a space created with it accepts episodes
 * and recall cues that carry text only. Implementations are found with {@link
 * java.util.ServiceLoader} (see {@link Embedders}) and must have a public no-argument constructor;
 * a heavy model should be loaded on first use, not in the constructor.
 *
 * <p>Thread-safety: implementations must be safe to call from several threads at once (the embed
 * stage's threads and recall threads).
 */
public interface Embedder {

  /** The name a space refers to it by, e.g. {@code all-minilm-l6-v2}; stable across releases. */
  String name();

  /** The length of every vector {@link #embed} returns. */
  int dimension();

  /**
   * Embeds a batch of texts.
   *
   * @return one vector of length {@link #dimension()} per text, in the same order
   * @throws RuntimeException if the model fails (the embed stage retries once, then quarantines)
   */
  List<float[]> embed(List<String> texts);
}
