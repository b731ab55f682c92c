package dev.engram.core;

import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.HnswParams;
import dev.engram.core.index.VectorIndex;
import dev.engram.core.model.SpaceConfig;

/** Index factories for {@link EngramConfig#indexFactory()}. */
public final class Indexes {
  private Indexes() {}

  /** The default: an HNSW graph with the default parameters. */
  public static VectorIndex hnsw(SpaceConfig space) {
    return new HnswIndex(space.dimension(), space.metric(), HnswParams.DEFAULTS);
  }

  /** An exact (flat) index. */
  public static VectorIndex exact(SpaceConfig space) {
    return new FlatIndex(space.dimension(), space.metric());
  }
}
