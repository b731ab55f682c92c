package dev.engram.core.model;

/**
 * One recalled episode with its score.
 *
 * @param episode the stored episode
 * @param score similarity to the cue, higher is closer
 * @param confidence the episode's current confidence
 */
public record Memory(Episode episode, float score, float confidence) {}
