package dev.engram.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.engram.core.model.Episode;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.Executor;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The lexical index: analysis, the unrefreshed tail, scoring consistency, removal, filters. */
class TextIndexTest {
  private static final IntPredicate ALL = o -> true;

  /** Refresh tasks wait here until the test runs them: the tail stays a tail. */
  private final Queue<Runnable> refreshes = new ArrayDeque<>();

  private final Executor manual = refreshes::add;
  private final TextIndex index = new TextIndex(manual);

  @AfterEach
  void close() {
    index.close();
  }

  private static Episode episode(int n, String content) {
    return new Episode("e" + n, new float[] {1f}, content, Instant.EPOCH, 1f, Map.of());
  }

  private static List<Integer> ordinals(List<TextHit> hits) {
    return hits.stream().map(TextHit::ordinal).toList();
  }

  @Test
  void search_beforeAnyRefresh_findsTheTailWithStemming() {
    index.add(1, episode(1, "The cats were running through the garden"));
    index.add(2, episode(2, "A dog sleeps"));

    assertThat(index.tailSize()).isEqualTo(2);
    assertThat(ordinals(index.search("cat runs", 10, ALL))).containsExactly(1);
    assertThat(ordinals(index.search("sleeping dogs", 10, ALL))).containsExactly(2);
    assertThat(index.search("the was", 10, ALL)).isEmpty(); // stop words only
  }

  @Test
  void refresh_movesTheTailIntoLucene_withTheSameScores() {
    Random random = new Random(7);
    String[] words = {"apple", "pear", "plum", "river", "stone", "cloud", "green", "quiet"};
    for (int i = 0; i < 60; i++) {
      StringBuilder text = new StringBuilder();
      for (int w = 0; w < 3 + random.nextInt(8); w++) {
        text.append(words[random.nextInt(words.length)]).append(' ');
      }
      index.add(i, episode(i, text.toString()));
      if (i == 39) {
        index.refreshNow(); // 40 in Lucene, 20 in the tail
      }
    }
    assertThat(index.tailSize()).isEqualTo(20);
    List<TextHit> mixed = index.search("apple river cloud", 60, ALL);

    index.refreshNow();
    assertThat(index.tailSize()).isZero();
    List<TextHit> indexed = index.search("apple river cloud", 60, ALL);

    Map<Integer, Float> before = new HashMap<>();
    mixed.forEach(h -> before.put(h.ordinal(), h.score()));
    assertThat(before).hasSameSizeAs(indexed).isNotEmpty();
    for (TextHit h : indexed) {
      assertThat(before.get(h.ordinal())).isCloseTo(h.score(), within(1e-5f));
    }
  }

  @Test
  void remove_hidesTheEpisode_inTheTailAndInLucene() {
    index.add(1, episode(1, "orange juice"));
    index.add(2, episode(2, "orange peel"));
    index.refreshNow();
    index.add(3, episode(3, "orange cake"));

    index.remove(2); // in Lucene, not yet refreshed
    index.remove(3); // in the tail
    assertThat(ordinals(index.search("orange", 10, ALL))).containsExactly(1);

    refreshes.forEach(Runnable::run);
    index.refreshNow();
    assertThat(ordinals(index.search("orange", 10, ALL))).containsExactly(1);
  }

  @Test
  void filter_isAppliedInsideTheSearch_soKHitsComeBack() {
    for (int i = 0; i < 2000; i++) {
      index.add(i, episode(i, "shared words and token" + i));
    }
    index.refreshNow();
    for (int i = 2000; i < 2100; i++) {
      index.add(i, episode(i, "shared words"));
    }
    IntPredicate rare = o -> o % 100 == 7; // 21 of 2100 pass
    List<TextHit> hits = index.search("shared", 15, rare);
    assertThat(hits).hasSize(15).allMatch(h -> h.ordinal() % 100 == 7);
    assertThat(index.search("shared", 50, rare)).hasSize(21);
  }

  @Test
  void close_endsSearching() {
    index.add(1, episode(1, "lamp"));
    index.close();
    assertThat(index.search("lamp", 5, ALL)).isEmpty();
  }
}
