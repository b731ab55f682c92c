package dev.engram.core.space;

import dev.engram.core.index.SearchHit;
import dev.engram.core.index.VectorMath;
import dev.engram.core.model.Metric;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntPredicate;

/**
 * Accepted episodes that no index worker has inserted yet, searched by exact scan so that an
 * acknowledged episode is recallable at once. Its size is bounded by the admission queue. It holds
 * the accepted vector itself (no copy): the index worker passes that array to the index, which
 * copies it into its storage, and the segment then drops it, so each vector lives in one place.
 *
 * <p>Concurrency: a {@link ConcurrentHashMap} from ordinal to vector; acceptors add, workers
 * remove, recalls scan a weakly consistent view. An episode is removed only after it is in the
 * index, so a recall always finds it in one or the other (sometimes both: callers merge by
 * ordinal).
 */
final class FreshSegment {
  private final ConcurrentHashMap<Integer, float[]> vectors = new ConcurrentHashMap<>();
  private final Metric metric;

  FreshSegment(Metric metric) {
    this.metric = metric;
  }

  void add(int ordinal, float[] vector) {
    vectors.put(ordinal, vector);
  }

  /** The vector waiting under {@code ordinal} (the array itself, not a copy), or null. */
  float[] get(int ordinal) {
    return vectors.get(ordinal);
  }

  void remove(int ordinal) {
    vectors.remove(ordinal);
  }

  int size() {
    return vectors.size();
  }

  /**
   * The best {@code k} hits with a score of at least {@code minScore} whose ordinal passes {@code
   * accept}, best first.
   */
  List<SearchHit> search(float[] query, int k, float minScore, IntPredicate accept) {
    if (vectors.isEmpty()) {
      return List.of();
    }
    TopK top = new TopK(k, minScore);
    vectors.forEach(
        (ordinal, vector) -> {
          if (accept.test(ordinal)) {
            top.offer(ordinal, VectorMath.score(metric, query, vector));
          }
        });
    return top.best();
  }
}
