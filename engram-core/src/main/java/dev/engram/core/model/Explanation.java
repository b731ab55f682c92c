package dev.engram.core.model;

/**
 * Why an associative recall returned a memory: the signals that scored it.
 *
 * @param seedRank its rank among the seeds (1 = best), or 0 if it was reached by spreading only
 * @param seedScore its seed score (vector similarity), or 0 if not a seed
 * @param activation the activation it ended with (a seed's own, or spread over edges)
 * @param hops the edges its best activation came over (0 when its own seed score was best)
 * @param confidence its confidence at recall time (decayed, reinforced)
 * @param recency in (0, 1]: 1 for the newest observation among the candidates, less for older
 */
public record Explanation(
    int seedRank, float seedScore, float activation, int hops, float confidence, float recency) {}
