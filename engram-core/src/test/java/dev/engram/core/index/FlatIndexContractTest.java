package dev.engram.core.index;

import dev.engram.core.model.Metric;

class FlatIndexContractTest extends VectorIndexContract {
  @Override
  VectorIndex create(int dimension, Metric metric) {
    return new FlatIndex(dimension, metric);
  }
}
