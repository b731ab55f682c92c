package dev.engram.server.kafka;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per partition, the next offset this node's store does not yet hold: every record before it is
 * durable here (stored, a duplicate, or dead-lettered). Kept next to the store in {@code
 * <data-dir>/kafka-<topic>.offsets}, so a node that is assigned a partition replays from what
 * <em>its own</em> store holds (the group's committed offset belongs to whichever node owned the
 * partition last).
 *
 * <p>Written after the records are durable, so the file may lag the store (those records come again
 * and are duplicates) but never lead it. An unreadable file counts as empty: the node replays from
 * the earliest retained offset, which is slower but loses nothing.
 *
 * <p>Thread-safety: safe from any thread (the owner loop and the standby loop both advance it);
 * {@link #advance} only moves forward, {@link #save} is serialised.
 */
final class LocalOffsets {
  private final Path file;
  private final ConcurrentHashMap<Integer, Long> next = new ConcurrentHashMap<>();
  private final Object saving = new Object();
  private volatile boolean dirty;

  private LocalOffsets(Path file) {
    this.file = file;
  }

  /** Loads the offsets of {@code topic} kept under {@code dataDir}. */
  static LocalOffsets load(Path dataDir, String topic) {
    LocalOffsets offsets = new LocalOffsets(dataDir.resolve("kafka-" + topic + ".offsets"));
    try {
      if (Files.exists(offsets.file)) {
        for (String line : Files.readAllLines(offsets.file, StandardCharsets.UTF_8)) {
          String[] kv = line.strip().split("=", 2);
          if (kv.length == 2) {
            offsets.next.put(Integer.parseInt(kv[0]), Long.parseLong(kv[1]));
          }
        }
      }
    } catch (IOException | NumberFormatException e) {
      offsets.next.clear(); // replay from the earliest retained offset: slower, nothing lost
    }
    return offsets;
  }

  /** The next offset to read in {@code partition}, or -1 if this store holds none of it. */
  long next(int partition) {
    return next.getOrDefault(partition, -1L);
  }

  /** Records that everything before {@code nextOffset} in {@code partition} is durable here. */
  void advance(int partition, long nextOffset) {
    Long before = next.get(partition);
    if (before == null || before < nextOffset) {
      next.merge(partition, nextOffset, Math::max);
      dirty = true;
    }
  }

  /** Writes the file if anything moved since the last save (write, then atomic rename). */
  void save() {
    if (!dirty) {
      return;
    }
    synchronized (saving) {
      dirty = false;
      StringBuilder text = new StringBuilder();
      for (Map.Entry<Integer, Long> e : new TreeMap<>(next).entrySet()) {
        text.append(e.getKey()).append('=').append(e.getValue()).append('\n');
      }
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      try {
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        try {
          Files.move(
              tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
      } catch (IOException e) {
        dirty = true;
        throw new UncheckedIOException("cannot write " + file, e);
      }
    }
  }
}
