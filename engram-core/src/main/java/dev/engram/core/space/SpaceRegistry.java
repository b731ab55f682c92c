package dev.engram.core.space;

import dev.engram.core.index.VectorIndex;
import dev.engram.core.model.AlreadyExistsException;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * The memory spaces of one server, by id.
 *
 * <p>Thread-safety: backed by a {@link ConcurrentHashMap}; create and delete are atomic per id.
 */
public final class SpaceRegistry {
  private final ConcurrentHashMap<SpaceId, MemorySpace> spaces = new ConcurrentHashMap<>();
  private final Function<SpaceConfig, VectorIndex> indexFactory;
  private final int efSearch;
  private final Executor textRefresh;

  /**
   * @param indexFactory makes an empty index for a new space
   * @param efSearch the recall search width for every space
   * @param textRefresh runs the spaces' text index refreshes
   */
  public SpaceRegistry(
      Function<SpaceConfig, VectorIndex> indexFactory, int efSearch, Executor textRefresh) {
    this.indexFactory = indexFactory;
    this.efSearch = efSearch;
    this.textRefresh = textRefresh;
  }

  /**
   * Creates a space. Creating one that exists with the same definition returns it (idempotent);
   * with another definition it fails.
   */
  public MemorySpace create(SpaceConfig config) {
    MemorySpace space =
        spaces.computeIfAbsent(
            config.id(),
            id -> new MemorySpace(config, indexFactory.apply(config), efSearch, textRefresh));
    if (!space.config().equals(config)) {
      throw new AlreadyExistsException(
          "space '%s' already exists with dimension %d and metric %s"
              .formatted(config.id(), space.config().dimension(), space.config().metric()));
    }
    return space;
  }

  /**
   * A new space that is not yet visible: the durable store records its definition first, then
   * {@link #publish}es it, so no writer can reach a space whose definition could still be lost.
   */
  public MemorySpace prepare(SpaceConfig config) {
    return prepare(config, Payloads.onHeap());
  }

  /** As {@link #prepare(SpaceConfig)}, keeping the space's payloads in {@code payloads}. */
  public MemorySpace prepare(SpaceConfig config, Payloads payloads) {
    return new MemorySpace(config, indexFactory.apply(config), efSearch, textRefresh, payloads);
  }

  /**
   * Makes a {@linkplain #prepare prepared} space visible.
   *
   * @throws AlreadyExistsException if a space with its id appeared meanwhile
   */
  public MemorySpace publish(MemorySpace space) {
    MemorySpace existing = spaces.putIfAbsent(space.config().id(), space);
    if (existing != null) {
      throw new AlreadyExistsException("space '%s' already exists".formatted(space.config().id()));
    }
    return space;
  }

  /** The space, or null if there is none with this id. */
  public MemorySpace find(SpaceId id) {
    return spaces.get(id);
  }

  /** The space, or {@link NotFoundException}. */
  public MemorySpace get(SpaceId id) {
    MemorySpace space = spaces.get(id);
    if (space == null) {
      throw new NotFoundException("memory space '%s' does not exist".formatted(id));
    }
    return space;
  }

  /** All spaces, by id. */
  public List<MemorySpace> list() {
    return spaces.values().stream()
        .sorted(Comparator.comparing(s -> s.config().id().value()))
        .toList();
  }

  /** Removes a space; returns it so its streams can be ended. */
  public MemorySpace delete(SpaceId id) {
    MemorySpace space = spaces.remove(id);
    if (space == null) {
      throw new NotFoundException("memory space '%s' does not exist".formatted(id));
    }
    space.markDeleted();
    return space;
  }
}
