package dev.engram.core.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.engram.core.model.Metric;
import dev.engram.core.testdata.ClusteredVectors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class HnswSerializationTest {
  private static final int N = 3_000;
  private static final int DIM = 48;

  @TempDir Path dir;

  private static HnswIndex build(Metric metric, float[][] data) {
    HnswIndex index = new HnswIndex(DIM, metric, new HnswParams(10, 60, 40), 5);
    for (int i = 0; i < data.length; i++) {
      index.add(i, data[i]);
    }
    for (int i = 0; i < data.length; i += 10) {
      index.remove(i);
    }
    return index;
  }

  @ParameterizedTest
  @EnumSource(Metric.class)
  void saveThenLoad_sameGraphAndSameResults(Metric metric) throws IOException {
    ClusteredVectors generator = new ClusteredVectors(DIM, 50, 1);
    float[][] data = generator.take(N);
    HnswIndex original = build(metric, data);
    Path file = dir.resolve("graph.hnsw");
    original.save(file);
    HnswIndex loaded = HnswIndex.load(file);

    assertThat(loaded.size()).isEqualTo(original.size());
    assertThat(loaded.metric()).isEqualTo(metric);
    assertThat(loaded.params()).isEqualTo(original.params());
    assertThat(loaded.tombstones()).isEqualTo(N / 10);
    for (int i = 0; i < N; i += 13) {
      assertThat(loaded.contains(i)).isEqualTo(original.contains(i));
      assertThat(loaded.level(i)).isEqualTo(original.level(i));
      assertThat(loaded.neighbours(i)).containsExactly(original.neighbours(i));
    }
    for (float[] query : generator.queries(50)) {
      List<SearchHit> expected =
          original.search(query, 10, 40, Float.NEGATIVE_INFINITY, VectorIndex.ALL);
      assertThat(loaded.search(query, 10, 40, Float.NEGATIVE_INFINITY, VectorIndex.ALL))
          .isEqualTo(expected);
    }
    // The loaded graph keeps accepting inserts.
    loaded.add(N, data[1]);
    assertThat(loaded.search(data[1], 2, 40, Float.NEGATIVE_INFINITY, VectorIndex.ALL))
        .extracting(SearchHit::ordinal)
        .containsExactlyInAnyOrder(1, N);
    assertThat(tempFiles()).isEmpty();
  }

  @Test
  void load_truncatedFile_rejectedWithClearMessage() throws IOException {
    Path file = savedGraph();
    byte[] bytes = Files.readAllBytes(file);
    for (int length : new int[] {0, 5, 20, bytes.length / 2, bytes.length - 1}) {
      Path truncated = dir.resolve("truncated-" + length);
      Files.write(truncated, Arrays.copyOf(bytes, length));
      assertThatThrownBy(() -> HnswIndex.load(truncated))
          .isInstanceOf(IndexFormatException.class)
          .hasMessageContaining(truncated.toString())
          .hasMessageMatching("(?s).*(truncated|checksum mismatch).*");
    }
  }

  @Test
  void load_corruptByte_rejectedByChecksum() throws IOException {
    Path file = savedGraph();
    byte[] bytes = Files.readAllBytes(file);
    for (int position : new int[] {3, 30, bytes.length / 3, bytes.length - 2}) {
      byte[] copy = bytes.clone();
      copy[position] ^= 0x10;
      Path corrupt = dir.resolve("corrupt-" + position);
      Files.write(corrupt, copy);
      assertThatThrownBy(() -> HnswIndex.load(corrupt))
          .isInstanceOf(IndexFormatException.class)
          .hasMessageContaining("checksum mismatch");
    }
  }

  @Test
  void load_flatIndexFile_rejectedAsWrongKind() throws IOException {
    FlatIndex flat = new FlatIndex(DIM, Metric.L2);
    flat.add(0, new float[DIM]);
    Path file = dir.resolve("flat.idx");
    flat.save(file);
    assertThatThrownBy(() -> HnswIndex.load(file))
        .isInstanceOf(IndexFormatException.class)
        .hasMessageContaining("kind");
  }

  @Test
  void save_overExistingFile_replacesItAtomically() throws IOException {
    Path file = savedGraph();
    HnswIndex small = new HnswIndex(DIM, Metric.DOT, HnswParams.DEFAULTS);
    small.add(9, new ClusteredVectors(DIM, 5, 2).next());
    small.save(file);
    HnswIndex loaded = HnswIndex.load(file);
    assertThat(loaded.size()).isEqualTo(1);
    assertThat(loaded.contains(9)).isTrue();
    assertThat(tempFiles()).isEmpty();
  }

  @Test
  void saveThenLoad_emptyIndex() throws IOException {
    Path file = dir.resolve("empty.hnsw");
    new HnswIndex(DIM, Metric.L2, HnswParams.DEFAULTS).save(file);
    HnswIndex loaded = HnswIndex.load(file);
    assertThat(loaded.size()).isZero();
    assertThat(loaded.search(new float[DIM], 3)).isEmpty();
  }

  @Test
  void flatIndex_saveThenLoad_sameResults_andCorruptionDetected() throws IOException {
    ClusteredVectors generator = new ClusteredVectors(DIM, 20, 3);
    FlatIndex flat = new FlatIndex(DIM, Metric.COSINE);
    float[][] data = generator.take(500);
    for (int i = 0; i < data.length; i++) {
      flat.add(i * 2, data[i]);
    }
    flat.remove(4);
    Path file = dir.resolve("flat.idx");
    flat.save(file);
    FlatIndex loaded = FlatIndex.load(file);
    assertThat(loaded.size()).isEqualTo(499);
    float[] query = generator.nextQuery();
    assertThat(loaded.search(query, 10, 0, Float.NEGATIVE_INFINITY, VectorIndex.ALL))
        .isEqualTo(flat.search(query, 10, 0, Float.NEGATIVE_INFINITY, VectorIndex.ALL));
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 100));
    assertThatThrownBy(() -> FlatIndex.load(file)).isInstanceOf(IndexFormatException.class);
  }

  private Path savedGraph() throws IOException {
    Path file = dir.resolve("graph.hnsw");
    build(Metric.COSINE, new ClusteredVectors(DIM, 50, 1).take(500)).save(file);
    return file;
  }

  private List<Path> tempFiles() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
    }
  }
}
