package dev.engram.core.auth;

import java.io.IOException;
import java.io.Writer;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The record of administrative actions (space created or deleted, token issued or revoked, episodes
 * forgotten): one JSON line each in {@code <data-dir>/audit.log} and the same line on the {@code
 * engram.audit} logger. Lines name the acting token by id and never carry a secret.
 *
 * <p>Thread-safety: {@link #record} may be called from any thread; lines are written whole, in
 * order, under this object's monitor.
 */
public final class AuditLog implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger("engram.audit");

  /** Logs to the logger only (an engine without a data directory). */
  public static AuditLog loggerOnly(InstantSource clock) {
    return new AuditLog(null, clock);
  }

  private final Writer file; // null: logger only; guarded by this
  private final InstantSource clock;

  private AuditLog(Writer file, InstantSource clock) {
    this.file = file;
    this.clock = clock;
  }

  /** Appends to {@code path} (created if missing). */
  public static AuditLog open(Path path, InstantSource clock) {
    try {
      return new AuditLog(
          Files.newBufferedWriter(
              path, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND),
          clock);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot open the audit log " + path, e);
    }
  }

  /**
   * Records one action.
   *
   * @param actor the acting token's id ("-" with authentication off)
   * @param action what was done ({@code space.created}, {@code token.issued}, ...)
   * @param details further fields (space, token id, count); never secrets
   */
  public void record(String actor, String action, Map<String, String> details) {
    Map<String, String> fields = new LinkedHashMap<>();
    fields.put("time", clock.instant().toString());
    fields.put("actor", actor);
    fields.put("action", action);
    fields.putAll(details);
    StringBuilder line = new StringBuilder("{");
    fields.forEach(
        (k, v) -> {
          if (line.length() > 1) {
            line.append(',');
          }
          quote(line, k).append(':');
          quote(line, v);
        });
    line.append('}');
    String text = line.toString();
    LOG.log(Level.INFO, text);
    synchronized (this) {
      if (file != null) {
        try {
          file.write(text);
          file.write('\n');
          file.flush();
        } catch (IOException e) {
          LOG.log(Level.ERROR, "cannot write the audit log: " + e);
        }
      }
    }
  }

  private static StringBuilder quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append("\\u%04x".formatted((int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"');
  }

  @Override
  public synchronized void close() {
    if (file != null) {
      try {
        file.close();
      } catch (IOException e) {
        LOG.log(Level.WARNING, "closing the audit log failed: " + e);
      }
    }
  }
}
