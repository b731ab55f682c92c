package dev.engram.core.text;

import java.io.IOException;
import java.util.function.IntPredicate;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.search.ConstantScoreScorer;
import org.apache.lucene.search.ConstantScoreWeight;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.ScorerSupplier;
import org.apache.lucene.search.TwoPhaseIterator;
import org.apache.lucene.search.Weight;

/**
 * A Lucene filter clause that accepts the documents whose episode ordinal passes a predicate: the
 * recall filter (metadata, time range) is decided once, on the episode, and the text search applies
 * it inside the search like the vector searches do.
 *
 * <p>Thread-safety: immutable; the predicate must be safe from the searching thread.
 */
final class OrdinalFilterQuery extends Query {
  private final IntPredicate accept;

  OrdinalFilterQuery(IntPredicate accept) {
    this.accept = accept;
  }

  @Override
  public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) {
    return new ConstantScoreWeight(this, boost) {
      @Override
      public ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
        NumericDocValues ords = DocValues.getNumeric(context.reader(), TextIndex.ORD);
        TwoPhaseIterator matching =
            new TwoPhaseIterator(ords) {
              @Override
              public boolean matches() throws IOException {
                return accept.test((int) ords.longValue());
              }

              @Override
              public float matchCost() {
                return 20f;
              }
            };
        return new DefaultScorerSupplier(new ConstantScoreScorer(score(), scoreMode, matching));
      }

      @Override
      public boolean isCacheable(LeafReaderContext context) {
        return false;
      }
    };
  }

  @Override
  public String toString(String field) {
    return "OrdinalFilter";
  }

  @Override
  public void visit(QueryVisitor visitor) {
    visitor.visitLeaf(this);
  }

  @Override
  public boolean equals(Object other) {
    return this == other;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(this);
  }
}
