package dev.engram.core.recall;

import dev.engram.core.index.SearchHit;
import dev.engram.core.model.Cue;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Memory;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.text.TextHit;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.LongSupplier;

/**
 * Answers recalls: turns a query into a cue for its space, searches the space (index and fresh
 * segment) and ranks. Streams and unary calls both come here.
 *
 * <p>Modes: {@code SIMILARITY} ranks by vector similarity (exact-kNN-equivalent); {@code HYBRID}
 * fuses the vector ranking and the BM25 ranking of the text index with {@link RankFusion}, each
 * searched {@link RankFusion#depth} deep (a cue with only text or only a vector uses that one
 * ranking and its own scores: BM25 or similarity); {@code ASSOCIATIVE} ranks like similarity until
 * association edges exist (consolidation). The cue's filter is applied inside every search.
 *
 * <p>Answer size: memories carry their embeddings only when the query asks for them, and an answer
 * must fit in one message ({@link MessageLimits}): a query that cannot fit fails before the search,
 * an answer that turns out too large fails after it, both with a message that says what to lower.
 *
 * <p>Thread-safety: stateless apart from the injected clock; safe from any thread.
 */
public final class Recaller {
  private final LongSupplier nanoClock;
  private final MessageLimits limits;

  public Recaller(LongSupplier nanoClock) {
    this(nanoClock, MessageLimits.defaults());
  }

  public Recaller(LongSupplier nanoClock, MessageLimits limits) {
    this.nanoClock = nanoClock;
    this.limits = limits;
  }

  /**
   * Recalls from {@code space}.
   *
   * @param indexedThrough the watermark to report with the answer
   * @throws dev.engram.core.model.InvalidInputException if the query does not fit the space, or its
   *     answer does not fit in one message
   */
  public RecallResult recall(MemorySpace space, RecallQuery query, long indexedThrough) {
    long start = nanoClock.getAsLong();
    Cue cue = query.toCue(space.config());
    limits.checkRecall(cue.k(), space.config().dimension(), query.includeEmbeddings());
    List<Memory> memories = search(space, cue);
    if (!query.includeEmbeddings()) {
      memories = withoutEmbeddings(memories);
    }
    limits.checkAnswer(memories);
    long tookMicros = (nanoClock.getAsLong() - start) / 1_000;
    return new RecallResult(memories, indexedThrough, tookMicros);
  }

  private static List<Memory> search(MemorySpace space, Cue cue) {
    IntPredicate accept = space.accepting(cue.filter());
    boolean vector = cue.embedding().length > 0;
    boolean text = cue.mode() == RecallMode.HYBRID && !cue.text().isBlank();
    List<Memory> out = new ArrayList<>(cue.k());
    if (text && vector) {
      int depth = RankFusion.depth(cue.k());
      List<SearchHit> similar = space.similar(cue.embedding(), depth, cue.minScore(), accept);
      List<TextHit> lexical = space.lexical(cue.text(), depth, accept);
      int[] byVector = similar.stream().mapToInt(SearchHit::ordinal).toArray();
      int[] byText = lexical.stream().mapToInt(TextHit::ordinal).toArray();
      for (RankFusion.Fused f : RankFusion.fuse(List.of(byVector, byText), cue.k())) {
        add(out, space.memory(f.ordinal(), f.score()));
      }
    } else if (text) {
      for (TextHit hit : space.lexical(cue.text(), cue.k(), accept)) {
        add(out, space.memory(hit.ordinal(), hit.score()));
      }
    } else {
      for (SearchHit hit : space.similar(cue.embedding(), cue.k(), cue.minScore(), accept)) {
        add(out, space.memory(hit.ordinal(), hit.score()));
      }
    }
    return out;
  }

  private static void add(List<Memory> out, Memory memory) {
    if (memory != null) {
      out.add(memory); // null: forgotten during the search
    }
  }

  private static final float[] NO_EMBEDDING = new float[0];

  private static List<Memory> withoutEmbeddings(List<Memory> memories) {
    List<Memory> out = new ArrayList<>(memories.size());
    for (Memory m : memories) {
      Episode e = m.episode();
      out.add(new Memory(e.withEmbedding(NO_EMBEDDING), m.score(), m.confidence()));
    }
    return out;
  }
}
