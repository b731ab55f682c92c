package dev.engram.core.storage;

import dev.engram.core.storage.Codec.StoredEpisode;
import dev.engram.core.storage.Codec.StoredQuarantine;
import dev.engram.core.storage.Codec.StoredSession;
import dev.engram.core.storage.Codec.StoredSpace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB database under a data directory, with its column families ({@code spaces}, {@code
 * episodes}, {@code sessions}, {@code quarantine}, {@code associations}, and {@code default} for
 * counters; layout in {@link Codec}), and the directory lock ({@code <dir>/LOCK}, held with {@link
 * FileChannel#tryLock} for the store's lifetime, so a second server on the same directory fails at
 * once).
 *
 * <p>RocksDB options: the write-ahead log is bounded ({@code max_total_wal_size} 256 MiB, which
 * forces memtable flushes), so replaying it after a crash takes a bounded time.
 *
 * <p>Thread-safety: RocksDB handles are thread-safe; {@link #close} must run after every other call
 * has returned (the engine closes writers first), except {@link #get}, which payload reads may call
 * from any thread at any time: it holds a read lock that {@link #close} waits for, and fails with
 * {@link StorageFailedException} once the store is closed.
 */
final class EpisodeStore implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions cfOptions;
  private final RocksDB db;
  private final List<ColumnFamilyHandle> handles;
  final ColumnFamilyHandle meta;
  final ColumnFamilyHandle spaces;
  final ColumnFamilyHandle episodes;
  final ColumnFamilyHandle sessions;
  final ColumnFamilyHandle quarantine;
  final ColumnFamilyHandle tokens;
  final ColumnFamilyHandle associations;
  private final ReentrantReadWriteLock closing = new ReentrantReadWriteLock();
  private volatile boolean closed; // set under closing's write lock

  private EpisodeStore(
      Path dir,
      FileChannel lockChannel,
      FileLock lock,
      DBOptions dbOptions,
      ColumnFamilyOptions cfOptions,
      RocksDB db,
      List<ColumnFamilyHandle> handles) {
    this.dir = dir;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.dbOptions = dbOptions;
    this.cfOptions = cfOptions;
    this.db = db;
    this.handles = handles;
    this.meta = handles.get(0);
    this.spaces = handles.get(1);
    this.episodes = handles.get(2);
    this.sessions = handles.get(3);
    this.quarantine = handles.get(4);
    this.tokens = handles.get(5);
    this.associations = handles.get(6);
  }

  /**
   * Locks the directory and opens (or creates) the database; RocksDB replays its log.
   *
   * @throws DataDirectoryInUseException if another server holds the directory
   * @throws StorageFailedException if the database cannot be opened
   */
  static EpisodeStore open(Path dir) {
    FileChannel channel;
    FileLock lock;
    try {
      Files.createDirectories(dir);
      channel =
          FileChannel.open(
              dir.resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new StorageFailedException("cannot open data directory %s: %s".formatted(dir, e));
    }
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException e) {
      closeQuietly(channel);
      throw new StorageFailedException("cannot lock data directory %s: %s".formatted(dir, e));
    }
    if (lock == null) {
      closeQuietly(channel);
      throw new DataDirectoryInUseException(dir);
    }
    DBOptions dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setMaxTotalWalSize(256L << 20)
            .setMaxBackgroundJobs(2)
            .setKeepLogFileNum(4);
    ColumnFamilyOptions cfOptions =
        new ColumnFamilyOptions()
            .setWriteBufferSize(64L << 20)
            .setCompressionType(CompressionType.LZ4_COMPRESSION);
    List<ColumnFamilyDescriptor> descriptors =
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("spaces"), cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("episodes"), cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("sessions"), cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("quarantine"), cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("tokens"), cfOptions),
            new ColumnFamilyDescriptor(Codec.utf8("associations"), cfOptions));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db = RocksDB.open(dbOptions, dir.resolve("rocksdb").toString(), descriptors, handles);
      return new EpisodeStore(dir, channel, lock, dbOptions, cfOptions, db, handles);
    } catch (RocksDBException e) {
      dbOptions.close();
      cfOptions.close();
      closeQuietly(channel);
      throw failure("opening the store in " + dir, e);
    }
  }

  Path dir() {
    return dir;
  }

  void write(WriteOptions options, WriteBatch batch) throws RocksDBException {
    db.write(options, batch);
  }

  /** The value under {@code key} in {@code cf}, or null. */
  byte[] get(ColumnFamilyHandle cf, byte[] key) {
    closing.readLock().lock(); // a read racing close must not touch a freed native handle
    try {
      if (closed) {
        throw new StorageFailedException("the store is closed: the server is shutting down");
      }
      return db.get(cf, key);
    } catch (RocksDBException e) {
      throw failure("reading the store", e);
    } finally {
      closing.readLock().unlock();
    }
  }

  void syncWal() throws RocksDBException {
    db.syncWal();
  }

  long nextIncarnation() throws RocksDBException {
    byte[] value = db.get(meta, Codec.NEXT_INCARNATION);
    return value == null ? 1 : Codec.readLong(value);
  }

  List<StoredSpace> spaces() {
    List<StoredSpace> out = new ArrayList<>();
    scan(spaces, null, (k, v) -> out.add(Codec.space(k, v)));
    return out;
  }

  List<StoredSession> sessions() {
    List<StoredSession> out = new ArrayList<>();
    scan(sessions, null, (k, v) -> out.add(Codec.session(k, v)));
    return out;
  }

  /** Every quarantine marker. */
  List<StoredQuarantine> quarantined() {
    List<StoredQuarantine> out = new ArrayList<>();
    scan(quarantine, null, (k, v) -> out.add(Codec.quarantine(k, v)));
    return out;
  }

  /** Every token record by token id. */
  Map<String, byte[]> tokens() {
    Map<String, byte[]> out = new HashMap<>();
    scan(tokens, null, (k, v) -> out.put(new String(k, StandardCharsets.UTF_8), v));
    return out;
  }

  /** Writes (value non-null) or deletes one token record, synced unless {@code sync} is false. */
  void writeToken(String id, byte[] value, boolean sync) throws RocksDBException {
    try (WriteOptions options = new WriteOptions().setSync(sync)) {
      byte[] key = Codec.utf8(id);
      if (value == null) {
        db.delete(tokens, options, key);
      } else {
        db.put(tokens, options, key, value);
      }
    }
  }

  /** Every stored association node (consolidation's graph), in key order. */
  void forEachNode(Consumer<Codec.StoredNode> visitor) {
    scan(associations, null, (k, v) -> visitor.accept(Codec.node(k, v)));
  }

  /** Every stored episode, in key order (space incarnation, then id). */
  void forEachEpisode(Consumer<StoredEpisode> visitor) {
    scan(episodes, null, (k, v) -> visitor.accept(Codec.episode(k, v)));
  }

  /** Bytes the database occupies on disk (SST files plus live WAL). */
  long diskBytes() {
    try (var files = Files.walk(dir.resolve("rocksdb"))) {
      return files.filter(Files::isRegularFile).mapToLong(EpisodeStore::sizeOf).sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The sum of a RocksDB integer property over the column families (0 where one lacks it). */
  long longProperty(String name) {
    long sum = 0;
    for (ColumnFamilyHandle h : handles) {
      try {
        sum += db.getLongProperty(h, name);
      } catch (RocksDBException e) {
        // a property this RocksDB build does not know reads as 0
      }
    }
    return sum;
  }

  /** Bytes in write-ahead log files ({@code *.log}) not yet deleted. */
  long walBytes() {
    try (var files = Files.list(dir.resolve("rocksdb"))) {
      return files
          .filter(f -> f.getFileName().toString().endsWith(".log"))
          .mapToLong(EpisodeStore::sizeOf)
          .sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Bytes free to this process on the data directory's file system. */
  long freeBytes() {
    try {
      return Files.getFileStore(dir).getUsableSpace();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The size of the data directory's file system. */
  long totalBytes() {
    try {
      return Files.getFileStore(dir).getTotalSpace();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Flushes memtables so the next start replays no log. */
  void flush() throws RocksDBException {
    try (FlushOptions options = new FlushOptions().setWaitForFlush(true)) {
      db.flush(options, handles);
    }
  }

  @Override
  public void close() {
    closing.writeLock().lock();
    try {
      closed = true;
    } finally {
      closing.writeLock().unlock();
    }
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    db.close();
    dbOptions.close();
    cfOptions.close();
    try {
      lock.release();
    } catch (IOException ignored) {
      // closing the channel releases it anyway
    }
    closeQuietly(lockChannel);
  }

  /**
   * A RocksDB failure as a domain exception: a full disk is RESOURCE_EXHAUSTED, the rest
   * UNAVAILABLE.
   */
  static RuntimeException failure(String what, RocksDBException e) {
    Status status = e.getStatus();
    String detail = e.getMessage() == null ? String.valueOf(status) : e.getMessage();
    boolean noSpace =
        (status != null && status.getSubCode() == Status.SubCode.NoSpace)
            || detail.contains("No space left");
    if (noSpace) {
      return new StorageFullException(
          "%s failed: the disk is full (%s); nothing was stored, retry later"
              .formatted(what, detail));
    }
    return new StorageFailedException(
        "%s failed: %s; nothing was stored, retry later".formatted(what, detail));
  }

  private interface EntryVisitor {
    void visit(byte[] key, byte[] value);
  }

  private void scan(ColumnFamilyHandle cf, byte[] prefix, EntryVisitor visitor) {
    try (ReadOptions options = new ReadOptions().setFillCache(false);
        RocksIterator it = db.newIterator(cf, options)) {
      if (prefix == null) {
        it.seekToFirst();
      } else {
        it.seek(prefix);
      }
      for (; it.isValid(); it.next()) {
        byte[] key = it.key();
        if (prefix != null && !Codec.startsWith(key, prefix)) {
          break;
        }
        visitor.visit(key, it.value());
      }
      it.status();
    } catch (RocksDBException e) {
      throw failure("reading the store", e);
    }
  }

  private static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return 0; // deleted by a compaction meanwhile
    }
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing to do: the lock is gone with the channel
    }
  }
}
