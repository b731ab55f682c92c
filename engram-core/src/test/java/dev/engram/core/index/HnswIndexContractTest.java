package dev.engram.core.index;

import dev.engram.core.model.Metric;

class HnswIndexContractTest extends VectorIndexContract {
  @Override
  VectorIndex create(int dimension, Metric metric) {
    return new HnswIndex(dimension, metric, new HnswParams(8, 64, 32), 42);
  }
}
