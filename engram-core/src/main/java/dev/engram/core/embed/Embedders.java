package dev.engram.core.embed;

import dev.engram.core.model.InvalidInputException;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/**
 * The embedders a server offers, by name: those on the class path ({@link #discover()}, through
 * {@link ServiceLoader}), or a fixed set (tests).
 *
 * <p>Thread-safety: immutable.
 */
public final class Embedders {
  /** No embedders: text-only episodes and cues are refused. */
  public static final Embedders NONE = new Embedders(Map.of());

  private final Map<String, Embedder> byName;

  private Embedders(Map<String, Embedder> byName) {
    this.byName = Collections.unmodifiableMap(byName);
  }

  /** The embedders registered under {@code META-INF/services/dev.engram.core.embed.Embedder}. */
  public static Embedders discover() {
    Map<String, Embedder> found = new TreeMap<>();
    for (Embedder e : ServiceLoader.load(Embedder.class)) {
      found.putIfAbsent(e.name(), e);
    }
    return new Embedders(found);
  }

  /** Exactly these embedders. */
  public static Embedders of(Embedder... embedders) {
    Map<String, Embedder> map = new TreeMap<>();
    Arrays.stream(embedders).forEach(e -> map.put(e.name(), e));
    return new Embedders(map);
  }

  /** The embedder called {@code name}, or null if this server has none by that name. */
  public Embedder find(String name) {
    return byName.get(name);
  }

  /**
   * The embedder called {@code name}.
   *
   * @throws InvalidInputException naming the embedders this server offers
   */
  public Embedder require(String name) {
    Embedder e = byName.get(name);
    if (e == null) {
      throw new InvalidInputException(
          "embedder '%s' is not available on this server: it offers %s"
              .formatted(name, byName.isEmpty() ? "none" : byName.keySet()));
    }
    return e;
  }

  /** The names of the embedders offered, sorted. */
  public Set<String> names() {
    return byName.keySet();
  }
}
