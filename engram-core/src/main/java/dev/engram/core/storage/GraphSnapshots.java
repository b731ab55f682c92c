package dev.engram.core.storage;

import dev.engram.core.index.FlatIndex;
import dev.engram.core.index.HnswIndex;
import dev.engram.core.index.VectorIndex;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The seam between snapshots and index implementations: how an index is written to a file and read
 * back. {@link #DEFAULT} knows {@link HnswIndex} and {@link FlatIndex}; an index it does not know
 * is simply not snapshotted (recovery rebuilds it from the store).
 *
 * <p>Thread-safety: implementations are stateless; {@link #save} is called with the index's writers
 * held off (see {@link SnapshotGuard}), searches may run concurrently.
 */
public interface GraphSnapshots {

  /** A short name for the index's file format, or null if this index cannot be snapshotted. */
  String kind(VectorIndex index);

  /** Writes the index to {@code file} atomically. */
  void save(VectorIndex index, Path file) throws IOException;

  /**
   * Reads an index written by {@link #save} with the given kind.
   *
   * @throws IOException if the file is missing, truncated or corrupt
   */
  VectorIndex load(String kind, Path file) throws IOException;

  /** HNSW and flat indexes, through their own {@code save}/{@code load}. */
  GraphSnapshots DEFAULT =
      new GraphSnapshots() {
        @Override
        public String kind(VectorIndex index) {
          return switch (index) {
            case HnswIndex ignored -> "hnsw";
            case FlatIndex ignored -> "flat";
            default -> null;
          };
        }

        @Override
        public void save(VectorIndex index, Path file) throws IOException {
          switch (index) {
            case HnswIndex hnsw -> hnsw.save(file);
            case FlatIndex flat -> flat.save(file);
            default ->
                throw new IOException("cannot snapshot a " + index.getClass().getSimpleName());
          }
        }

        @Override
        public VectorIndex load(String kind, Path file) throws IOException {
          return switch (kind) {
            case "hnsw" -> HnswIndex.load(file);
            case "flat" -> FlatIndex.load(file);
            default -> throw new IOException(file + ": unknown index kind '" + kind + "'");
          };
        }
      };
}
