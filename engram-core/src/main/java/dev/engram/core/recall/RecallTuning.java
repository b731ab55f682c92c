package dev.engram.core.recall;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The ranking knobs of {@code HYBRID} and {@code ASSOCIATIVE} recall ({@code SIMILARITY} has none:
 * it is exact-kNN-equivalent). Set once per engine ({@code EngramConfig.recall}); the defaults are
 * the values tuned on LoCoMo's development conversations (docs/benchmarks.md, "Memory quality").
 *
 * @param fusion how the vector and BM25 rankings of a cue with both are combined
 * @param textWeight {@link Fusion#WEIGHTED}: the BM25 share of the fused score, in [0, 1]; the
 *     vector ranking gets the rest
 * @param rrfK {@link Fusion#RRF}: the rank offset ({@code 1 / (rrfK + rank)})
 * @param depth how deep each ranking is searched for a fused top {@code k}: {@code max(k, depth)}
 * @param minSeeds {@code ASSOCIATIVE}: at least this many seeds ({@code max(minSeeds, 2k)})
 * @param hops {@code ASSOCIATIVE}: how many edges activation may cross (0: seeds only)
 * @param hopDecay {@code ASSOCIATIVE}: activation over an edge is {@code a × weight × hopDecay}
 * @param spread {@code ASSOCIATIVE}: how activation that reaches a node combines with its own
 * @param recencyWeight {@code ASSOCIATIVE}: weight of recency in the score
 * @param confidenceWeight {@code ASSOCIATIVE}: the score is {@code activation × (1 -
 *     confidenceWeight + confidenceWeight × confidence) + recencyWeight × recency}
 * @param scale {@link Fusion#WEIGHTED}: how each ranking's scores are brought to [0, 1]
 * @param functionWords whether the BM25 leg drops English function words from the text cue (see
 *     {@link FunctionWords}) before searching; the vector leg always gets the whole text
 * @param maxEdgeWeight {@code ASSOCIATIVE}: activation spreads only over edges of at most this
 *     weight (1: all; below the similarity floor: temporal and co-recall edges only)
 */
public record RecallTuning(
    Fusion fusion,
    float textWeight,
    int rrfK,
    int depth,
    int minSeeds,
    int hops,
    float hopDecay,
    Spread spread,
    float recencyWeight,
    float confidenceWeight,
    Scale scale,
    boolean functionWords,
    float maxEdgeWeight) {

  /** How {@link Fusion#WEIGHTED} scales a ranking's scores. */
  public enum Scale {
    /** {@code (s - worst) / (best - worst)} over the ranking searched. */
    MINMAX,
    /** {@code s / best}. */
    MAX
  }

  /** How a cue's vector and BM25 rankings are combined. */
  public enum Fusion {
    /** Reciprocal rank fusion: ranks only, no scores. */
    RRF,
    /**
     * A weighted sum of the two scores, each scaled to [0, 1] by the best and worst score of its
     * own ranking: {@code textWeight × bm25' + (1 - textWeight) × cosine'}; an item missing from
     * one ranking scores 0 there.
     */
    WEIGHTED
  }

  /** How activation arriving over an edge combines with the activation a node already has. */
  public enum Spread {
    /** A node keeps the highest activation that reaches it (its own seed score or a spread). */
    MAX,
    /**
     * A node adds what reaches it over edges to its own seed score, keeping only the strongest
     * arrival per hop: clusters of good seeds rise together.
     */
    ADD
  }

  public RecallTuning {
    if (fusion == null || spread == null || scale == null) {
      throw new IllegalArgumentException("fusion and spread must be set");
    }
    check(textWeight >= 0f && textWeight <= 1f, "textWeight", textWeight, "[0, 1]");
    check(rrfK >= 1, "rrfK", rrfK, ">= 1");
    check(depth >= 1 && depth <= 10_000, "depth", depth, "1-10000");
    check(minSeeds >= 1 && minSeeds <= 10_000, "minSeeds", minSeeds, "1-10000");
    check(hops >= 0 && hops <= 4, "hops", hops, "0-4");
    check(hopDecay >= 0f && hopDecay <= 1f, "hopDecay", hopDecay, "[0, 1]");
    check(recencyWeight >= 0f && recencyWeight <= 1f, "recencyWeight", recencyWeight, "[0, 1]");
    check(
        confidenceWeight >= 0f && confidenceWeight <= 1f,
        "confidenceWeight",
        confidenceWeight,
        "[0, 1]");
    check(maxEdgeWeight > 0f && maxEdgeWeight <= 1f, "maxEdgeWeight", maxEdgeWeight, "(0, 1]");
  }

  private static void check(boolean ok, String name, Object value, String range) {
    if (!ok) {
      throw new IllegalArgumentException("%s must be %s, got %s".formatted(name, range, value));
    }
  }

  /**
   * The defaults, tuned on LoCoMo's development conversations only (docs/benchmarks.md, "Memory
   * quality"): weighted fusion with BM25 at 0.65 over min-max scaled scores, 50 deep, function
   * words dropped from the BM25 cue; at least 20 seeds, 2 hops, spread added to a node's own
   * activation at {@code × 0.5} per hop over every edge; recency 0.05, confidence 0.3.
   */
  public static RecallTuning defaults() {
    return new RecallTuning(
        Fusion.WEIGHTED,
        0.65f,
        60,
        50,
        20,
        2,
        0.5f,
        Spread.ADD,
        0.05f,
        0.3f,
        Scale.MINMAX,
        true,
        1f);
  }

  /** The settings as {@code name=value} pairs, in the order {@link #with} reads them. */
  public Map<String, String> asMap() {
    Map<String, String> m = new TreeMap<>();
    m.put("fusion", fusion.name().toLowerCase(Locale.ROOT));
    m.put("textWeight", Float.toString(textWeight));
    m.put("rrfK", Integer.toString(rrfK));
    m.put("depth", Integer.toString(depth));
    m.put("minSeeds", Integer.toString(minSeeds));
    m.put("hops", Integer.toString(hops));
    m.put("hopDecay", Float.toString(hopDecay));
    m.put("spread", spread.name().toLowerCase(Locale.ROOT));
    m.put("recencyWeight", Float.toString(recencyWeight));
    m.put("confidenceWeight", Float.toString(confidenceWeight));
    m.put("scale", scale.name().toLowerCase(Locale.ROOT));
    m.put("functionWords", functionWords ? "drop" : "keep");
    m.put("maxEdgeWeight", Float.toString(maxEdgeWeight));
    return m;
  }

  /**
   * This tuning with the settings of {@code spec} changed: {@code name=value} pairs separated by
   * commas, names as in {@link #asMap()} (e.g. {@code fusion=weighted,textWeight=0.7}).
   *
   * @throws IllegalArgumentException naming an unknown setting or a bad value
   */
  public RecallTuning with(String spec) {
    Map<String, String> m = asMap();
    for (String pair : spec.split(",")) {
      if (pair.isBlank()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = eq < 0 ? pair.trim() : pair.substring(0, eq).trim();
      if (eq < 0 || !m.containsKey(name)) {
        throw new IllegalArgumentException(
            "recall setting '%s': use name=value with a name of %s".formatted(pair, m.keySet()));
      }
      m.put(name, pair.substring(eq + 1).trim());
    }
    try {
      return new RecallTuning(
          Fusion.valueOf(m.get("fusion").toUpperCase(Locale.ROOT)),
          Float.parseFloat(m.get("textWeight")),
          Integer.parseInt(m.get("rrfK")),
          Integer.parseInt(m.get("depth")),
          Integer.parseInt(m.get("minSeeds")),
          Integer.parseInt(m.get("hops")),
          Float.parseFloat(m.get("hopDecay")),
          Spread.valueOf(m.get("spread").toUpperCase(Locale.ROOT)),
          Float.parseFloat(m.get("recencyWeight")),
          Float.parseFloat(m.get("confidenceWeight")),
          Scale.valueOf(m.get("scale").toUpperCase(Locale.ROOT)),
          switch (m.get("functionWords")) {
            case "drop" -> true;
            case "keep" -> false;
            default ->
                throw new IllegalArgumentException(
                    "functionWords must be drop or keep, got " + m.get("functionWords"));
          },
          Float.parseFloat(m.get("maxEdgeWeight")));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "recall settings '%s': %s".formatted(spec, e.getMessage()));
    }
  }
}
