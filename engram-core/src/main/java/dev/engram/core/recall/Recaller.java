package dev.engram.core.recall;

import dev.engram.core.consolidate.Consolidator;
import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
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
import java.time.InstantSource;
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
 * ranking and its own scores: BM25 or similarity); {@code ASSOCIATIVE} takes the hybrid ranking as
 * seeds and spreads activation from them over the association graph ({@link AssociativeRanker}).
 * The cue's filter is applied inside every search, and to every memory activation reaches. Every
 * answer is reported to the consolidation worker (when there is one), which reinforces the returned
 * memories and strengthens their co-recall edges off this thread.
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
  private final InstantSource clock;
  private final Consolidator consolidator; // null: no consolidation
  private final Embedders embedders;
  private final RecallTuning tuning;

  public Recaller(LongSupplier nanoClock) {
    this(nanoClock, MessageLimits.defaults());
  }

  public Recaller(LongSupplier nanoClock, MessageLimits limits) {
    this(nanoClock, limits, InstantSource.system(), null, Embedders.NONE);
  }

  /**
   * @param clock the time confidence decays by
   * @param consolidator told what each recall returned; null when consolidation is off
   * @param embedders the embedders that turn text-only cues into vectors, for spaces that name one
   */
  public Recaller(
      LongSupplier nanoClock,
      MessageLimits limits,
      InstantSource clock,
      Consolidator consolidator,
      Embedders embedders) {
    this(nanoClock, limits, clock, consolidator, embedders, RecallTuning.defaults());
  }

  /**
   * As {@link #Recaller(LongSupplier, MessageLimits, InstantSource, Consolidator, Embedders)},
   * ranking {@code HYBRID} and {@code ASSOCIATIVE} recalls with {@code tuning}.
   */
  public Recaller(
      LongSupplier nanoClock,
      MessageLimits limits,
      InstantSource clock,
      Consolidator consolidator,
      Embedders embedders,
      RecallTuning tuning) {
    this.nanoClock = nanoClock;
    this.limits = limits;
    this.clock = clock;
    this.consolidator = consolidator;
    this.embedders = embedders;
    this.tuning = java.util.Objects.requireNonNull(tuning, "tuning");
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
    Cue cue = embedded(space, query).toCue(space.config());
    limits.checkRecall(cue.k(), space.config().dimension(), query.includeEmbeddings());
    IntPredicate accept = space.accepting(cue.filter());
    List<Memory> memories =
        cue.mode() == RecallMode.ASSOCIATIVE
            ? AssociativeRanker.recall(space, cue, accept, clock.millis(), tuning)
            : search(space, cue, accept, tuning);
    if (consolidator != null && !memories.isEmpty()) {
      int[] ordinals = new int[memories.size()];
      int n = 0;
      for (Memory m : memories) {
        int ordinal = space.ordinalOf(m.episode().id());
        if (ordinal >= 0) {
          ordinals[n++] = ordinal;
        }
      }
      consolidator.recalled(space, java.util.Arrays.copyOf(ordinals, n));
    }
    if (!query.includeEmbeddings()) {
      memories = withoutEmbeddings(memories);
    }
    limits.checkAnswer(memories);
    long tookMicros = (nanoClock.getAsLong() - start) / 1_000;
    return new RecallResult(memories, indexedThrough, tookMicros);
  }

  /**
   * A text-only cue embedded by its space's embedder, on the calling thread; others as they are.
   */
  private RecallQuery embedded(MemorySpace space, RecallQuery query) {
    if (!query.textOnly() || !space.config().hasEmbedder()) {
      return query;
    }
    Embedder embedder = embedders.find(space.config().embedder());
    if (embedder == null) {
      return query; // toCue names the missing embedder
    }
    return query.withEmbedding(embedder.embed(List.of(query.text())).get(0));
  }

  private static List<Memory> search(
      MemorySpace space, Cue cue, IntPredicate accept, RecallTuning tuning) {
    List<Memory> out = new ArrayList<>(cue.k());
    for (SearchHit hit : ranked(space, cue, cue.k(), accept, tuning)) {
      Memory memory = space.memory(hit.ordinal(), hit.score());
      if (memory != null) {
        out.add(memory); // null: forgotten during the search
      }
    }
    return out;
  }

  /**
   * The best {@code n} episodes for the cue, best first, each with its score: with both a text and
   * a vector (HYBRID or ASSOCIATIVE), the two rankings fused ({@link RankFusion}, with the fused
   * score); with text only, BM25; with a vector only, similarity. The one place that decides how a
   * cue is searched.
   */
  static List<SearchHit> ranked(
      MemorySpace space, Cue cue, int n, IntPredicate accept, RecallTuning tuning) {
    boolean vector = cue.embedding().length > 0;
    boolean text = cue.mode() != RecallMode.SIMILARITY && !cue.text().isBlank();
    if (text && vector) {
      int depth = Math.max(n, tuning.depth());
      List<SearchHit> similar = space.similar(cue.embedding(), depth, cue.minScore(), accept);
      List<TextHit> lexical = space.lexical(lexicalText(cue, tuning), depth, accept);
      int[] byVector = similar.stream().mapToInt(SearchHit::ordinal).toArray();
      int[] byText = lexical.stream().mapToInt(TextHit::ordinal).toArray();
      List<RankFusion.Fused> fused =
          switch (tuning.fusion()) {
            case RRF -> RankFusion.fuse(List.of(byVector, byText), n, tuning.rrfK());
            case WEIGHTED -> {
              float[] vectorScores = new float[similar.size()];
              for (int i = 0; i < vectorScores.length; i++) {
                vectorScores[i] = similar.get(i).score();
              }
              float[] textScores = new float[lexical.size()];
              for (int i = 0; i < textScores.length; i++) {
                textScores[i] = lexical.get(i).score();
              }
              yield RankFusion.weighted(
                  List.of(byVector, byText),
                  List.of(vectorScores, textScores),
                  new float[] {1f - tuning.textWeight(), tuning.textWeight()},
                  n,
                  tuning.scale() == RecallTuning.Scale.MINMAX);
            }
          };
      List<SearchHit> out = new ArrayList<>(n);
      for (RankFusion.Fused f : fused) {
        out.add(new SearchHit(f.ordinal(), f.score()));
      }
      return out;
    }
    if (text) {
      List<SearchHit> out = new ArrayList<>(n);
      for (TextHit hit : space.lexical(lexicalText(cue, tuning), n, accept)) {
        out.add(new SearchHit(hit.ordinal(), hit.score()));
      }
      return out;
    }
    return space.similar(cue.embedding(), n, cue.minScore(), accept);
  }

  /** The text the BM25 leg searches: the cue's, less function words if the tuning says so. */
  private static String lexicalText(Cue cue, RecallTuning tuning) {
    if (!tuning.functionWords()) {
      return cue.text();
    }
    String content = FunctionWords.strip(cue.text());
    return content.isBlank() ? cue.text() : content; // only function words: search them
  }

  private static final float[] NO_EMBEDDING = new float[0];

  private static List<Memory> withoutEmbeddings(List<Memory> memories) {
    List<Memory> out = new ArrayList<>(memories.size());
    for (Memory m : memories) {
      Episode e = m.episode();
      out.add(
          new Memory(
              e.withEmbedding(NO_EMBEDDING),
              m.score(),
              m.confidence(),
              m.explanation(),
              m.aliases()));
    }
    return out;
  }
}
