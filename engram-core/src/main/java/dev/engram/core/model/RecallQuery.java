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
 */
public record RecallQuery(
    String requestId,
    String spaceId,
    float[] embedding,
    String text,
    int k,
    float minScore,
    RecallMode mode,
    boolean includeEmbeddings) {
  public static final int DEFAULT_K = 10;

  public RecallQuery {
    requestId = requestId == null ? "" : requestId;
    spaceId = spaceId == null ? "" : spaceId;
    embedding = embedding == null ? new float[0] : embedding;
    text = text == null ? "" : text;
    mode = mode == null ? RecallMode.SIMILARITY : mode;
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
    this(requestId, spaceId, embedding, text, k, minScore, mode, false);
  }

  /** The cue this query asks for once checked against {@code space}. */
  public Cue toCue(SpaceConfig space) {
    if (embedding.length == 0) {
      throw new InvalidInputException(
          text.isEmpty()
              ? "recall needs an embedding"
              : "text recall needs an embedding model and this server has none: send an"
                  + " embedding");
    }
    float[] vector = EpisodeValidator.validateQuery(space, embedding);
    float threshold = minScore == 0f ? Float.NEGATIVE_INFINITY : minScore;
    return new Cue(vector, k == 0 ? DEFAULT_K : k, threshold, mode);
  }
}
