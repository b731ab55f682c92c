package dev.engram.core.model;

/**
 * A recall as a client sent it, before defaults and validation.
 *
 * @param requestId echoed in the answer
 * @param spaceId the space to search; empty means the stream's space
 * @param embedding the cue vector (may be empty when {@code text} is given)
 * @param text a text cue, for servers with an embedding model
 * @param k how many memories; 0 means 10
 * @param minScore the lowest score; 0 means no threshold
 * @param mode how to rank
 * @param includeEmbeddings whether each memory in the answer carries its embedding
 * @param filter which episodes may be returned (null: any)
 */
public record RecallQuery(
    String requestId,
    String spaceId,
    float[] embedding,
    String text,
    int k,
    float minScore,
    RecallMode mode,
    boolean includeEmbeddings,
    RecallFilter filter) {
  public static final int DEFAULT_K = 10;

  public RecallQuery {
    requestId = requestId == null ? "" : requestId;
    spaceId = spaceId == null ? "" : spaceId;
    embedding = embedding == null ? new float[0] : embedding;
    text = text == null ? "" : text;
    mode = mode == null ? RecallMode.SIMILARITY : mode;
    filter = filter == null ? RecallFilter.NONE : filter;
  }

  /** A query without a filter. */
  public RecallQuery(
      String requestId,
      String spaceId,
      float[] embedding,
      String text,
      int k,
      float minScore,
      RecallMode mode,
      boolean includeEmbeddings) {
    this(requestId, spaceId, embedding, text, k, minScore, mode, includeEmbeddings, null);
  }

  /** A query whose answer carries no embeddings. */
  public RecallQuery(
      String requestId,
      String spaceId,
      float[] embedding,
      String text,
      int k,
      float minScore,
      RecallMode mode) {
    this(requestId, spaceId, embedding, text, k, minScore, mode, false, null);
  }

  /**
   * The cue this query asks for once checked against {@code space}. {@link RecallMode#HYBRID} takes
   * a text cue, a vector cue or both; the other modes need a vector.
   */
  public Cue toCue(SpaceConfig space) {
    float threshold = minScore == 0f ? Float.NEGATIVE_INFINITY : minScore;
    int size = k == 0 ? DEFAULT_K : k;
    if (embedding.length == 0) {
      if (mode == RecallMode.HYBRID && !text.isBlank()) {
        return new Cue(embedding, text, size, threshold, mode, filter);
      }
      throw new InvalidInputException(
          text.isEmpty()
              ? "recall needs an embedding"
              : "text recall needs an embedding model and this server has none: send an"
                  + " embedding, or use RECALL_MODE_HYBRID for a text-only (BM25) recall");
    }
    float[] vector = EpisodeValidator.validateQuery(space, embedding);
    return new Cue(vector, text, size, threshold, mode, filter);
  }
}
