package dev.engram.bench.index;

import io.github.jbellis.jvector.graph.GraphIndexBuilder;
import io.github.jbellis.jvector.graph.GraphSearcher;
import io.github.jbellis.jvector.graph.ImmutableGraphIndex;
import io.github.jbellis.jvector.graph.ListRandomAccessVectorValues;
import io.github.jbellis.jvector.graph.RandomAccessVectorValues;
import io.github.jbellis.jvector.graph.SearchResult;
import io.github.jbellis.jvector.graph.similarity.BuildScoreProvider;
import io.github.jbellis.jvector.graph.similarity.DefaultSearchScoreProvider;
import io.github.jbellis.jvector.util.Bits;
import io.github.jbellis.jvector.vector.VectorSimilarityFunction;
import io.github.jbellis.jvector.vector.VectorizationProvider;
import io.github.jbellis.jvector.vector.types.VectorFloat;
import io.github.jbellis.jvector.vector.types.VectorTypeSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;

/**
 * jvector 4.0.2 under the PEERS.md fairness rules: layer-0 degree {@code 2m} and upper layers
 * {@code m} (the {@code maxDegrees} list), beam width = efConstruction, both ForkJoinPools sized to
 * the thread count, {@code rerankK} = ef at search time. Build time includes {@code cleanup()}.
 * Only loaded in its own JVM.
 */
final class JvectorCandidate implements IndexBench.Candidate {
  private static final VectorTypeSupport VTS =
      VectorizationProvider.getInstance().getVectorTypeSupport();

  private final int dim;
  private final int m;
  private final int efc;
  private RandomAccessVectorValues ravv;
  private ImmutableGraphIndex graph;
  private GraphSearcher searcher;

  private JvectorCandidate(int dim, int m, int efc) {
    this.dim = dim;
    this.m = m;
    this.efc = efc;
  }

  static JvectorCandidate create(int dim, int m, int efc) {
    return new JvectorCandidate(dim, m, efc);
  }

  @Override
  public String name() {
    return "jvector 4.0.2 (degree " + (2 * m) + "/" + m + ")";
  }

  @Override
  public boolean approximate() {
    return true;
  }

  // This constructor takes per-layer degrees and both pools, as PEERS.md's fair comparison needs;
  // it is deprecated in jvector 4.0.2 but still the one that exposes all of those settings.
  @SuppressWarnings("deprecation")
  @Override
  public void build(float[][] data, int threads) throws Exception {
    graph = null;
    searcher = null;
    List<VectorFloat<?>> vectors = new ArrayList<>(data.length);
    for (float[] v : data) {
      vectors.add(VTS.createFloatVector(v));
    }
    ravv = new ListRandomAccessVectorValues(vectors, dim);
    BuildScoreProvider bsp =
        BuildScoreProvider.randomAccessScoreProvider(ravv, VectorSimilarityFunction.DOT_PRODUCT);
    ForkJoinPool simd = new ForkJoinPool(threads);
    ForkJoinPool parallel = new ForkJoinPool(threads);
    try (GraphIndexBuilder builder =
        new GraphIndexBuilder(
            bsp, dim, List.of(2 * m, m), efc, 1.2f, 1.2f, true, true, simd, parallel)) {
      graph = builder.build(ravv);
    } finally {
      simd.shutdown();
      parallel.shutdown();
    }
    searcher = new GraphSearcher(graph);
  }

  @Override
  public int[] search(float[] query, int k, int ef) {
    DefaultSearchScoreProvider ssp =
        DefaultSearchScoreProvider.exact(
            VTS.createFloatVector(query), VectorSimilarityFunction.DOT_PRODUCT, ravv);
    SearchResult result = searcher.search(ssp, k, ef, 0f, 0f, Bits.ALL);
    SearchResult.NodeScore[] nodes = result.getNodes();
    int[] out = new int[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      out[i] = nodes[i].node;
    }
    return out;
  }
}
