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

  /** This query with {@code vector} as its embedding (a text cue once embedded). */
  public RecallQuery withEmbedding(float[] vector) {
    return new RecallQuery(
        requestId, spaceId, vector, text, k, minScore, mode, includeEmbeddings, filter);
  }

  /** Whether the cue is text only: the server must embed it (in a space with an embedder). */
  public boolean textOnly() {
    return embedding.length == 0 && !text.isBlank();
  }

  /**
   * The cue this query asks for once checked against {@code space}. {@link RecallMode#HYBRID} and
   * {@link RecallMode#ASSOCIATIVE} take a text cue, a vector cue or both; {@code SIMILARITY} needs
   * a vector (in a space with an embedder, the server embeds a text cue first).
   */
  public Cue toCue(SpaceConfig space) {
    float threshold = minScore == 0f ? Float.NEGATIVE_INFINITY : minScore;
    int size = k == 0 ? DEFAULT_K : k;
    if (embedding.length == 0) {
      if (mode != RecallMode.SIMILARITY && !text.isBlank()) {
        return new Cue(embedding, text, size, threshold, mode, filter);
      }
      throw new InvalidInputException(
          text.isEmpty()
              ? "recall needs an embedding"
              : space.hasEmbedder()
                  ? "text recall in space '%s' needs its embedder '%s', which this server lacks"
                      .formatted(space.id(), space.embedder())
                  : ("a text-only SIMILARITY recall needs a space with an embedder and space '%s'"
                          + " has none: send an embedding of dimension %d, or use"
                          + " RECALL_MODE_HYBRID or RECALL_MODE_ASSOCIATIVE for a text (BM25) recall")
                      .formatted(space.id(), space.dimension()));
    }
    float[] vector = EpisodeValidator.validateQuery(space, embedding);
    return new Cue(vector, text, size, threshold, mode, filter);
  }
}
