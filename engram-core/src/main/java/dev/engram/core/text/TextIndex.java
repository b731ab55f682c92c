package dev.engram.core.text;

import dev.engram.core.model.Episode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntPredicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TermStatistics;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.SmallFloat;

/**
 * A memory space's lexical index: BM25 over each episode's {@code content}, analysed by Lucene's
 * {@link EnglishAnalyzer} (lower case, stop words, Porter stemming), held in memory and rebuilt
 * from the episode store at recovery.
 *
 * <p>Feeding: the space calls {@link #add} where it publishes an accepted episode (the one accept
 * path) and {@link #remove} where it forgets, drops or quarantines one. Neither touches Lucene: an
 * add puts the episode in the <em>tail</em> (a map of episodes not yet visible to the Lucene
 * searcher) and queues the write; a remove takes it out of the tail and queues the delete. The ack
 * path pays a map put and a queue offer.
 *
 * <p>Refresh: one task at a time per index, on the injected executor, scheduled when the first
 * write arrives after a refresh: it analyses and writes the queued documents in order, refreshes
 * the {@link SearcherManager} (near-real-time reader), then drops from the tail what the new reader
 * holds. The recall path never refreshes. The tail is therefore bounded by the ingest rate × (the
 * refresh delay + one refresh); {@link #tailSize} reports it.
 *
 * <p>Read-your-writes: a search copies the tail, then acquires the searcher; an entry leaves the
 * tail only after a reader holding it is published, so each acknowledged episode is in one or the
 * other (both, briefly, around a refresh: hits are merged by ordinal). Tail documents are scored by
 * the same BM25 formula with the same statistics as the indexed ones: the searcher's collection and
 * term statistics are those of the reader plus the tail's, so a document's score does not change
 * when a refresh moves it from the tail into the reader.
 *
 * <p>Filters are applied inside the search: an ordinal predicate is a Lucene filter clause ({@link
 * OrdinalFilterQuery}) and is tested on each tail entry, so {@code k} hits come back when {@code k}
 * match.
 *
 * <p>Concurrency: {@link #add}, {@link #remove}, {@link #search} are safe from any thread and
 * lock-free; the refresh task is the only writer of the Lucene index (serialised by a flag and the
 * index's monitor, which {@link #close} also takes).
 */
public final class TextIndex implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(TextIndex.class.getName());
  static final String ORD = "ord";
  static final String CONTENT = "content";
  private static final float K1 = 1.2f;
  private static final float B = 0.75f;

  /**
   * Writes applied by one refresh at most: a bulk load is made visible in steps, so the tail
   * shrinks refresh by refresh instead of waiting for one refresh of everything.
   */
  static final int MAX_WRITES_PER_REFRESH = 4096;

  private final Analyzer analyzer = new EnglishAnalyzer();
  private final Executor executor;
  private final IndexWriter writer;
  private final SearcherManager searchers;
  private final ConcurrentHashMap<Integer, Pending> tail = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final AtomicLong refreshes = new AtomicLong();
  private volatile long maxRefreshNanos;
  private volatile long maxTailNanos;
  private final java.util.Set<Integer> removing = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /** A text index whose refreshes run on {@code executor} (one at a time for this index). */
  public TextIndex(Executor executor) {
    this.executor = executor;
    try {
      IndexWriterConfig config = new IndexWriterConfig(analyzer);
      config.setSimilarity(new BM25Similarity(K1, B));
      config.setCommitOnClose(false);
      config.setRAMBufferSizeMB(64);
      config.setMaxFullFlushMergeWaitMillis(0); // a refresh never waits for merges
      this.writer = new IndexWriter(new ByteBuffersDirectory(), config);
      this.searchers = new SearcherManager(writer, null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Makes {@code episode}'s content searchable under {@code ordinal}, from this call on. */
  public void add(int ordinal, Episode episode) {
    if (episode.content().isBlank() || closed) {
      return;
    }
    Pending pending = new Pending(ordinal, episode.content());
    tail.put(ordinal, pending);
    ops.add(new Op(ordinal, pending));
    schedule();
  }

  /**
   * Recovery only, single-threaded, before the space serves: writes the document straight into the
   * Lucene index; {@link #refreshNow} makes the batch visible.
   */
  public void restore(int ordinal, Episode episode) {
    if (episode.content().isBlank()) {
      return;
    }
    try {
      writer.addDocument(document(ordinal, episode.content()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Takes {@code ordinal} out of every later search. */
  public void remove(int ordinal) {
    if (closed) {
      return;
    }
    removing.add(ordinal); // hidden from searches until the refreshed reader lacks it
    tail.remove(ordinal);
    ops.add(new Op(ordinal, null));
    schedule();
  }

  /** Episodes whose text is searchable only through the tail scan (not yet refreshed). */
  public int tailSize() {
    return tail.size();
  }

  /** Refreshes completed so far. */
  public long refreshes() {
    return refreshes.get();
  }

  /** The longest refresh so far (queued writes applied, then the reader reopened), in ns. */
  public long maxRefreshNanos() {
    return maxRefreshNanos;
  }

  /**
   * The longest time an episode spent in the tail so far (from {@link #add} until a refreshed
   * reader held it), in ns: the measured bound of the near-real-time lag that the tail scan covers.
   */
  public long maxTailNanos() {
    return maxTailNanos;
  }

  /** Starts {@link #maxTailNanos} and {@link #maxRefreshNanos} afresh (benchmarks). */
  public void resetMaxima() {
    maxTailNanos = 0;
    maxRefreshNanos = 0;
  }

  /** Applies queued writes and refreshes now, on the calling thread (recovery, tests). */
  public void refreshNow() {
    do {
      refresh();
    } while (!ops.isEmpty() && !closed);
  }

  /**
   * The {@code k} best BM25 matches for {@code text} among ordinals that pass {@code filter}, best
   * first; empty if the text has no searchable terms.
   */
  public List<TextHit> search(String text, int k, IntPredicate filter) {
    List<String> terms = analyze(text);
    if (terms.isEmpty() || closed) {
      return List.of();
    }
    // The tail before the searcher: an entry leaves the tail only after a reader that holds it is
    // published, so an entry missing from this snapshot is in the searcher acquired next.
    List<Pending> unseen = new ArrayList<>(tail.values());
    IndexSearcher shared;
    try {
      shared = searchers.acquire();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Stats stats = new Stats(unseen, terms, this);
      StatsSearcher searcher = new StatsSearcher(shared.getIndexReader(), stats, terms);
      PriorityQueue<TextHit> worstFirst = new PriorityQueue<>(k + 1, TextHit.WORST_FIRST);
      java.util.Set<Integer> seen = new java.util.HashSet<>();
      if (searcher.indexedDocs() > 0) {
        BooleanQuery.Builder should = new BooleanQuery.Builder();
        for (String term : terms) {
          should.add(new TermQuery(new Term(CONTENT, term)), BooleanClause.Occur.SHOULD);
        }
        Query query =
            new BooleanQuery.Builder()
                .add(should.build(), BooleanClause.Occur.MUST)
                .add(new OrdinalFilterQuery(filter), BooleanClause.Occur.FILTER)
                .build();
        TopDocs top = searcher.search(query, k + removing.size());
        List<LeafReaderContext> leaves = searcher.getIndexReader().leaves();
        for (ScoreDoc doc : top.scoreDocs) {
          LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc.doc, leaves));
          NumericDocValues ords = DocValues.getNumeric(leaf.reader(), ORD);
          if (ords.advanceExact(doc.doc - leaf.docBase)) {
            int ordinal = (int) ords.longValue();
            if (!removing.contains(ordinal) && seen.add(ordinal)) {
              offer(worstFirst, new TextHit(ordinal, doc.score), k);
            }
          }
        }
      }
      for (Pending p : unseen) {
        if (seen.contains(p.ordinal) || removing.contains(p.ordinal) || !filter.test(p.ordinal)) {
          continue;
        }
        float score = stats.score(p.terms(this), terms);
        if (score > 0f && seen.add(p.ordinal)) {
          offer(worstFirst, new TextHit(p.ordinal, score), k);
        }
      }
      List<TextHit> hits = new ArrayList<>(worstFirst);
      hits.sort(TextHit.WORST_FIRST.reversed());
      return hits;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      try {
        searchers.release(shared);
      } catch (IOException e) {
        LOG.log(Level.WARNING, "releasing a text searcher failed", e);
      }
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      tail.clear();
      ops.clear();
      try {
        searchers.close();
        writer.close();
      } catch (IOException e) {
        LOG.log(Level.WARNING, "closing a text index failed", e);
      }
    }
  }

  private static void offer(PriorityQueue<TextHit> worstFirst, TextHit hit, int k) {
    worstFirst.add(hit);
    if (worstFirst.size() > k) {
      worstFirst.poll();
    }
  }

  private void schedule() {
    if (scheduled.compareAndSet(false, true)) {
      try {
        executor.execute(this::refreshTask);
      } catch (RuntimeException e) {
        scheduled.set(false);
        LOG.log(Level.WARNING, "text refresh could not be scheduled; the tail keeps growing", e);
      }
    }
  }

  private void refreshTask() {
    try {
      refresh();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "text refresh failed; it is retried on the next write", e);
    } finally {
      scheduled.set(false);
      if (!ops.isEmpty() && !closed) {
        schedule();
      }
    }
  }

  private synchronized void refresh() {
    if (closed) {
      return;
    }
    long start = System.nanoTime();
    try {
      List<Pending> added = new ArrayList<>();
      List<Integer> deleted = new ArrayList<>();
      Op op;
      int writes = 0;
      while (writes++ < MAX_WRITES_PER_REFRESH && (op = ops.poll()) != null) {
        Term key = new Term(ORD, Integer.toString(op.ordinal));
        if (op.add == null) {
          writer.deleteDocuments(key);
          deleted.add(op.ordinal);
        } else {
          writer.addDocument(document(op.ordinal, op.add.content));
          added.add(op.add);
        }
      }
      searchers.maybeRefreshBlocking();
      long now = System.nanoTime();
      long oldest = 0;
      for (Pending p : added) {
        tail.remove(p.ordinal, p);
        oldest = Math.max(oldest, now - p.addedNanos);
      }
      maxTailNanos = Math.max(maxTailNanos, oldest);
      deleted.forEach(removing::remove);
      refreshes.incrementAndGet();
      maxRefreshNanos = Math.max(maxRefreshNanos, System.nanoTime() - start);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Document document(int ordinal, String content) {
    Document doc = new Document();
    doc.add(new StringField(ORD, Integer.toString(ordinal), Field.Store.NO));
    doc.add(new NumericDocValuesField(ORD, ordinal));
    doc.add(new TextField(CONTENT, content, Field.Store.NO));
    return doc;
  }

  /** The analysed terms of {@code text}, in order, repeats kept (as Lucene indexes them). */
  List<String> analyze(String text) {
    List<String> terms = new ArrayList<>();
    try (TokenStream tokens = analyzer.tokenStream(CONTENT, text)) {
      CharTermAttribute term = tokens.addAttribute(CharTermAttribute.class);
      tokens.reset();
      while (tokens.incrementToken()) {
        terms.add(term.toString());
      }
      tokens.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return terms;
  }

  /** A queued write: an add ({@code add} set) or a delete ({@code add} null). */
  private record Op(int ordinal, Pending add) {}

  /** An episode not yet visible to the searcher; its terms are analysed on first use. */
  private static final class Pending {
    final int ordinal;
    final String content;
    final long addedNanos = System.nanoTime();
    private volatile Terms terms;

    Pending(int ordinal, String content) {
      this.ordinal = ordinal;
      this.content = content;
    }

    Terms terms(TextIndex index) {
      Terms t = terms;
      if (t == null) {
        Map<String, Integer> freqs = new HashMap<>();
        List<String> analysed = index.analyze(content);
        for (String term : analysed) {
          freqs.merge(term, 1, Integer::sum);
        }
        t = new Terms(freqs, analysed.size());
        terms = t;
      }
      return t;
    }
  }

  private record Terms(Map<String, Integer> freqs, int length) {}

  /**
   * BM25 statistics of the reader plus the tail, for one query: what Lucene's searcher reports for
   * the indexed documents and what {@link #score} uses for the tail's.
   */
  private static final class Stats {
    final long tailDocs;
    final long tailLength;
    final long tailSumDocFreq;
    final Map<String, long[]> tailTerms = new HashMap<>(); // term -> {docFreq, totalTermFreq}
    long docCount;
    long sumTotalTermFreq;
    final Map<String, Long> docFreq = new HashMap<>();

    Stats(List<Pending> unseen, List<String> queryTerms, TextIndex index) {
      java.util.Set<String> distinct = new java.util.HashSet<>(queryTerms);
      long docs = 0;
      long length = 0;
      long sumDocFreq = 0;
      for (Pending p : unseen) {
        Terms t = p.terms(index);
        docs++;
        length += t.length();
        sumDocFreq += t.freqs().size();
        for (String term : distinct) {
          Integer f = t.freqs().get(term);
          if (f != null) {
            long[] s = tailTerms.computeIfAbsent(term, x -> new long[2]);
            s[0]++;
            s[1] += f;
          }
        }
      }
      this.tailDocs = docs;
      this.tailLength = length;
      this.tailSumDocFreq = sumDocFreq;
    }

    /** Adds the reader's statistics (called once, by the searcher). */
    void addReader(IndexReader reader, CollectionStatistics indexed, List<String> queryTerms)
        throws IOException {
      docCount = tailDocs + (indexed == null ? 0 : indexed.docCount());
      sumTotalTermFreq = tailLength + (indexed == null ? 0 : indexed.sumTotalTermFreq());
      for (String term : new java.util.HashSet<>(queryTerms)) {
        long[] t = tailTerms.get(term);
        docFreq.put(term, reader.docFreq(new Term(CONTENT, term)) + (t == null ? 0 : t[0]));
      }
    }

    /** BM25 exactly as Lucene's {@link BM25Similarity} computes it, from these statistics. */
    float score(Terms doc, List<String> queryTerms) {
      if (docCount == 0) {
        return 0f;
      }
      float avgdl = (float) (sumTotalTermFreq / (double) docCount);
      float dl = SmallFloat.byte4ToInt(SmallFloat.intToByte4(doc.length()));
      float normInverse = 1f / (K1 * ((1 - B) + B * dl / avgdl));
      float score = 0f;
      for (String term : queryTerms) {
        Integer freq = doc.freqs().get(term);
        if (freq == null) {
          continue;
        }
        long df = docFreq.get(term);
        float idf = (float) Math.log(1 + (docCount - df + 0.5D) / (df + 0.5D));
        score += idf - idf / (1f + freq * normInverse);
      }
      return score;
    }
  }

  /**
   * A searcher over one reader whose BM25 statistics include the tail, so indexed and tail
   * documents are scored alike.
   */
  private static final class StatsSearcher extends IndexSearcher {
    private final Stats stats;
    private final CollectionStatistics indexed;

    StatsSearcher(IndexReader reader, Stats stats, List<String> queryTerms) throws IOException {
      super(reader);
      setQueryCache(null);
      setSimilarity(new BM25Similarity(K1, B));
      this.indexed = super.collectionStatistics(CONTENT);
      this.stats = stats;
      stats.addReader(reader, indexed, queryTerms);
    }

    long indexedDocs() {
      return indexed == null ? 0 : indexed.docCount();
    }

    @Override
    public CollectionStatistics collectionStatistics(String field) throws IOException {
      if (!CONTENT.equals(field) || stats.tailDocs == 0 || indexed == null) {
        return super.collectionStatistics(field);
      }
      return new CollectionStatistics(
          field,
          indexed.maxDoc() + stats.tailDocs,
          stats.docCount,
          stats.sumTotalTermFreq,
          indexed.sumDocFreq() + stats.tailSumDocFreq);
    }

    @Override
    public TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq)
        throws IOException {
      long[] t = CONTENT.equals(term.field()) ? stats.tailTerms.get(term.text()) : null;
      if (t == null) {
        return super.termStatistics(term, docFreq, totalTermFreq);
      }
      return new TermStatistics(term.bytes(), docFreq + t[0], totalTermFreq + t[1]);
    }
  }
}
