package dev.engram.core.ingest;

import dev.engram.core.model.SpaceId;

/**
 * Test-only hook called by an index worker just before it indexes an episode. A test installs one
 * that throws for a chosen episode to prove that the supervisor restarts the worker and quarantines
 * the poison episode. Production wiring uses {@link #NONE}.
 */
@FunctionalInterface
public interface IndexFaultInjector {

  /** Called on the worker thread; throwing kills the worker. */
  void beforeIndex(SpaceId space, String episodeId);

  IndexFaultInjector NONE = (space, episodeId) -> {};
}
