package dev.engram.core.index;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The on-disk envelope shared by every index file: {@code "ENGRAMIX"}, format version, index kind,
 * the index's own body, then a CRC32C of everything before it (little-endian throughout).
 *
 * <p>Writing goes to a temporary file in the target's directory, is forced to disk and then renamed
 * over the target atomically, so a reader sees the old file or the new one, never a partial one.
 * Reading verifies the checksum over the whole file <em>before</em> parsing, so a truncated or
 * corrupt file fails with {@link IndexFormatException} and nothing is loaded.
 *
 * <p>Thread-safety: the static methods are safe from any thread; {@link Output} and {@link Input}
 * belong to the thread that created them.
 */
final class IndexFiles {
  static final byte[] MAGIC = "ENGRAMIX".getBytes(StandardCharsets.US_ASCII);
  static final int VERSION = 1;
  static final byte KIND_HNSW = 1;
  static final byte KIND_FLAT = 2;
  private static final int HEADER_BYTES = 8 + 4 + 1;
  private static final int BUFFER_BYTES = 1 << 20;

  private IndexFiles() {}

  /** Writes one index body. */
  interface Body {
    void writeTo(Output out) throws IOException;
  }

  static void writeAtomically(Path path, byte kind, Body body) throws IOException {
    Path target = path.toAbsolutePath();
    Path dir = target.getParent();
    Path tmp = Files.createTempFile(dir, target.getFileName() + ".", ".tmp");
    boolean moved = false;
    try {
      try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        Output out = new Output(channel);
        out.putBytes(MAGIC);
        out.putInt(VERSION);
        out.putByte(kind);
        body.writeTo(out);
        out.finish();
        channel.force(true);
      }
      try {
        Files.move(
            tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      moved = true;
    } finally {
      if (!moved) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /** Opens {@code path}, verifies its checksum, magic, version and kind; the caller parses. */
  static Input open(Path path, byte expectedKind) throws IOException {
    FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long size = channel.size();
      if (size < HEADER_BYTES + 4) {
        throw new IndexFormatException(path, "truncated: only " + size + " bytes");
      }
      verifyChecksum(path, channel, size);
      Input in = new Input(path, channel, size - 4);
      byte[] magic = new byte[MAGIC.length];
      in.getBytes(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IndexFormatException(path, "not an Engram index file (bad magic)");
      }
      int version = in.getInt();
      if (version != VERSION) {
        throw new IndexFormatException(
            path, "unsupported format version " + version + " (this build reads " + VERSION + ")");
      }
      byte kind = in.getByte();
      if (kind != expectedKind) {
        throw new IndexFormatException(
            path, "holds index kind " + kind + ", expected " + expectedKind);
      }
      return in;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static void verifyChecksum(Path path, FileChannel channel, long size) throws IOException {
    CRC32C crc = new CRC32C();
    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES);
    long payload = size - 4;
    long position = 0;
    while (position < payload) {
      buf.clear();
      buf.limit((int) Math.min(buf.capacity(), payload - position));
      int read = channel.read(buf, position);
      if (read < 0) {
        throw new IndexFormatException(path, "truncated while reading at byte " + position);
      }
      buf.flip();
      crc.update(buf);
      position += read;
    }
    ByteBuffer trailer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    while (trailer.hasRemaining()) {
      if (channel.read(trailer, payload + trailer.position()) < 0) {
        throw new IndexFormatException(path, "truncated checksum");
      }
    }
    int stored = trailer.getInt(0);
    int computed = (int) crc.getValue();
    if (stored != computed) {
      throw new IndexFormatException(
          path,
          String.format(
              "checksum mismatch (stored %08x, computed %08x): the file is corrupt or truncated",
              stored, computed));
    }
  }

  /** Buffered little-endian writer that checksums every byte it writes. */
  static final class Output {
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();

    Output(FileChannel channel) {
      this.channel = channel;
    }

    void putByte(byte b) throws IOException {
      room(1);
      buf.put(b);
    }

    void putInt(int v) throws IOException {
      room(4);
      buf.putInt(v);
    }

    void putLong(long v) throws IOException {
      room(8);
      buf.putLong(v);
    }

    void putDouble(double v) throws IOException {
      room(8);
      buf.putDouble(v);
    }

    void putBytes(byte[] bytes) throws IOException {
      room(bytes.length);
      buf.put(bytes);
    }

    void putFloats(float[] values, int offset, int length) throws IOException {
      for (int i = 0; i < length; i++) {
        room(4);
        buf.putFloat(values[offset + i]);
      }
    }

    void putInts(int[] values, int offset, int length) throws IOException {
      for (int i = 0; i < length; i++) {
        room(4);
        buf.putInt(values[offset + i]);
      }
    }

    private void room(int bytes) throws IOException {
      if (buf.remaining() < bytes) {
        flush();
      }
    }

    private void flush() throws IOException {
      buf.flip();
      crc.update(buf.duplicate());
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      buf.clear();
    }

    void finish() throws IOException {
      flush();
      buf.putInt((int) crc.getValue());
      buf.flip();
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      buf.clear();
    }
  }

  /** Buffered little-endian reader over a checksum-verified payload. */
  static final class Input implements Closeable {
    private final Path path;
    private final FileChannel channel;
    private final long end;
    private long filePosition;
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    Input(Path path, FileChannel channel, long end) {
      this.path = path;
      this.channel = channel;
      this.end = end;
      buf.limit(0);
    }

    Path path() {
      return path;
    }

    /** Bytes of payload not yet read. */
    long remaining() {
      return end - filePosition + buf.remaining();
    }

    private void need(int bytes) throws IOException {
      if (buf.remaining() >= bytes) {
        return;
      }
      buf.compact();
      while (buf.position() < bytes) {
        if (filePosition >= end) {
          throw new IndexFormatException(path, "truncated: body ends before its declared size");
        }
        int want = (int) Math.min(buf.remaining(), end - filePosition);
        ByteBuffer slice = buf.slice(buf.position(), want);
        int read = channel.read(slice, filePosition);
        if (read < 0) {
          throw new IndexFormatException(path, "truncated at byte " + filePosition);
        }
        filePosition += read;
        buf.position(buf.position() + read);
      }
      buf.flip();
    }

    byte getByte() throws IOException {
      need(1);
      return buf.get();
    }

    int getInt() throws IOException {
      need(4);
      return buf.getInt();
    }

    long getLong() throws IOException {
      need(8);
      return buf.getLong();
    }

    double getDouble() throws IOException {
      need(8);
      return buf.getDouble();
    }

    void getBytes(byte[] out) throws IOException {
      need(out.length);
      buf.get(out);
    }

    void getFloats(float[] out, int offset, int length) throws IOException {
      for (int i = 0; i < length; i++) {
        need(4);
        out[offset + i] = buf.getFloat();
      }
    }

    /** Fails unless every payload byte was consumed. */
    void expectEnd() throws IOException {
      if (remaining() != 0) {
        throw new IndexFormatException(path, remaining() + " unexpected trailing bytes");
      }
    }

    /** Throws a format error naming this file. */
    IndexFormatException corrupt(String message) {
      return new IndexFormatException(path, message);
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
