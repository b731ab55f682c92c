package dev.engram.core.index;

import java.util.Arrays;

/**
 * A binary min-heap of (score, ordinal) pairs on parallel primitive arrays: the result set and,
 * with negated scores, the candidate queue of a graph search. Grows as needed.
 *
 * <p>Thread-safety: none; each search thread owns its heaps.
 */
final class ScoreHeap {
  private float[] scores;
  private int[] ids;
  private int size;

  ScoreHeap(int capacity) {
    scores = new float[Math.max(capacity, 4)];
    ids = new int[scores.length];
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  void clear() {
    size = 0;
  }

  /** The smallest score; only valid when not empty. */
  float minScore() {
    return scores[0];
  }

  /** The ordinal with the smallest score; only valid when not empty. */
  int minId() {
    return ids[0];
  }

  void push(int id, float score) {
    if (size == scores.length) {
      scores = Arrays.copyOf(scores, size * 2);
      ids = Arrays.copyOf(ids, size * 2);
    }
    int i = size++;
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (scores[parent] <= score) {
        break;
      }
      scores[i] = scores[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    scores[i] = score;
    ids[i] = id;
  }

  /** Removes the smallest entry and returns its ordinal. */
  int pop() {
    int top = ids[0];
    size--;
    if (size > 0) {
      siftDown(scores[size], ids[size]);
    }
    return top;
  }

  private void siftDown(float score, int id) {
    int i = 0;
    int half = size >>> 1;
    while (i < half) {
      int child = 2 * i + 1;
      int right = child + 1;
      if (right < size && scores[right] < scores[child]) {
        child = right;
      }
      if (score <= scores[child]) {
        break;
      }
      scores[i] = scores[child];
      ids[i] = ids[child];
      i = child;
    }
    scores[i] = score;
    ids[i] = id;
  }

  /**
   * Empties the heap into {@code outIds}/{@code outScores} ordered by descending score and returns
   * the count; the arrays must hold {@link #size()} entries.
   */
  int drainDescending(int[] outIds, float[] outScores) {
    int n = size;
    for (int i = n - 1; i >= 0; i--) {
      outScores[i] = scores[0];
      outIds[i] = pop();
    }
    return n;
  }
}
