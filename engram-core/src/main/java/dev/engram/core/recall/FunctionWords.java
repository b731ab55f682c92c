package dev.engram.core.recall;

import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * English function words (question words, pronouns, auxiliaries, determiners, prepositions) that
 * the text index's analyser keeps but that carry no topic: a question such as "What did Caroline do
 * after the race?" matches every turn that says "what" or "did" otherwise. Dropped from a text
 * cue's BM25 search only (never from what is indexed, nor from the text a cue is embedded from).
 *
 * <p>Thread-safety: immutable.
 */
final class FunctionWords {
  private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}']+");

  static final Set<String> WORDS =
      Set.of(
          "a",
          "about",
          "above",
          "after",
          "again",
          "against",
          "all",
          "am",
          "an",
          "and",
          "any",
          "are",
          "as",
          "at",
          "be",
          "because",
          "been",
          "before",
          "being",
          "below",
          "between",
          "both",
          "but",
          "by",
          "can",
          "could",
          "did",
          "do",
          "does",
          "doing",
          "down",
          "during",
          "each",
          "few",
          "for",
          "from",
          "further",
          "had",
          "has",
          "have",
          "having",
          "he",
          "her",
          "here",
          "hers",
          "herself",
          "him",
          "himself",
          "his",
          "how",
          "i",
          "if",
          "in",
          "into",
          "is",
          "it",
          "its",
          "itself",
          "just",
          "me",
          "might",
          "more",
          "most",
          "must",
          "my",
          "myself",
          "no",
          "nor",
          "not",
          "now",
          "of",
          "off",
          "on",
          "once",
          "only",
          "or",
          "other",
          "our",
          "ours",
          "ourselves",
          "out",
          "over",
          "own",
          "same",
          "shall",
          "she",
          "should",
          "so",
          "some",
          "such",
          "than",
          "that",
          "the",
          "their",
          "theirs",
          "them",
          "themselves",
          "then",
          "there",
          "these",
          "they",
          "this",
          "those",
          "through",
          "to",
          "too",
          "under",
          "until",
          "up",
          "very",
          "was",
          "we",
          "were",
          "what",
          "when",
          "where",
          "which",
          "while",
          "who",
          "whom",
          "whose",
          "why",
          "will",
          "with",
          "would",
          "you",
          "your",
          "yours",
          "yourself",
          "yourselves",
          "kind",
          "likely",
          "s",
          "t");

  private FunctionWords() {}

  /** {@code text} without its function words (the others in order, separated by spaces). */
  static String strip(String text) {
    StringBuilder out = new StringBuilder(text.length());
    var m = WORD.matcher(text);
    while (m.find()) {
      String w = m.group();
      String lower = w.toLowerCase(Locale.ROOT);
      int apostrophe = lower.indexOf('\'');
      String base = apostrophe > 0 ? lower.substring(0, apostrophe) : lower;
      if (!WORDS.contains(lower) && !WORDS.contains(base)) {
        if (!out.isEmpty()) {
          out.append(' ');
        }
        out.append(w);
      }
    }
    return out.toString();
  }
}
