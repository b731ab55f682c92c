package dev.engram.core.index;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An index file is not a valid, complete index: wrong magic or version, truncated, failing its
 * CRC32C checksum, or structurally inconsistent. Nothing of such a file is ever loaded.
 */
public final class IndexFormatException extends IOException {
  private final Path file;

  public IndexFormatException(Path file, String message) {
    super(file + ": " + message);
    this.file = file;
  }

  public IndexFormatException(Path file, String message, Throwable cause) {
    super(file + ": " + message, cause);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
