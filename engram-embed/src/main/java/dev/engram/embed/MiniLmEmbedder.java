package dev.engram.embed;

import dev.engram.core.embed.Embedder;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import java.util.ArrayList;
import java.util.List;

/**
 * all-MiniLM-L6-v2 (384-d sentence embeddings) run in process with ONNX Runtime through
 * langchain4j; the model ships inside the jar, so it works offline. The model is loaded on first
 * use (about a second), not when the server discovers the embedder.
 *
 * <p>Thread-safety: safe from any thread; the model is created once (holder idiom) and its ONNX
 * session is thread-safe.
 */
public final class MiniLmEmbedder implements Embedder {
  public static final String NAME = "all-minilm-l6-v2";
  public static final int DIMENSION = 384;

  /** Loads the model on first access only. */
  private static final class Model {
    static final AllMiniLmL6V2EmbeddingModel INSTANCE = new AllMiniLmL6V2EmbeddingModel();
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int dimension() {
    return DIMENSION;
  }

  @Override
  public List<float[]> embed(List<String> texts) {
    if (texts.isEmpty()) {
      return List.of();
    }
    List<TextSegment> segments = new ArrayList<>(texts.size());
    for (String text : texts) {
      segments.add(TextSegment.from(text));
    }
    List<Embedding> embeddings = Model.INSTANCE.embedAll(segments).content();
    List<float[]> out = new ArrayList<>(embeddings.size());
    for (Embedding e : embeddings) {
      out.add(e.vector());
    }
    return out;
  }
}
