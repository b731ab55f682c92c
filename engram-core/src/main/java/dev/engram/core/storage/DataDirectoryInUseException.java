package dev.engram.core.storage;

import dev.engram.core.model.UnavailableException;
import java.nio.file.Path;

/** Another Engram server (in this or another process) holds the data directory's lock. */
public final class DataDirectoryInUseException extends UnavailableException {
  private static final long serialVersionUID = 1L;

  public DataDirectoryInUseException(Path dir) {
    super("data directory %s is in use by another Engram server".formatted(dir.toAbsolutePath()));
  }
}
