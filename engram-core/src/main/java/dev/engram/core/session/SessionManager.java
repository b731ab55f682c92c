package dev.engram.core.session;

import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.model.UnavailableException;
import dev.engram.core.recall.Recaller;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.space.SpaceRegistry;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Opens, resumes and retires sessions, and runs the ticker that sends periodic acks and status.
 *
 * <p>Sessions outlive their streams so clients can resume; detached sessions beyond {@link
 * #maxRetained} are retired oldest first.
 *
 * <p>Concurrency: sessions live in a {@link ConcurrentHashMap}; one scheduled thread ticks every
 * attached session every {@code tickMillis}. {@link #shuttingDown} is volatile: once set, no new
 * session opens.
 */
public final class SessionManager implements AutoCloseable {
  private final SpaceRegistry spaces;
  private final IngestQueue queue;
  private final Acceptor acceptor;
  private final Recaller recaller;
  private final LongSupplier nanoClock;
  private final int maxRetained;
  private final long drainTimeoutNanos;
  private final MessageLimits limits;
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
  private final ScheduledExecutorService ticker;
  private volatile boolean shuttingDown;

  /**
   * @param tickMillis how often acks and status are sent while there is news
   * @param maxRetained how many sessions are kept for resume
   * @param drainTimeoutNanos the longest a draining close waits for indexing
   * @param limits the message and batch limits, advertised in every {@code InitAck}
   */
  public SessionManager(
      SpaceRegistry spaces,
      IngestQueue queue,
      Acceptor acceptor,
      Recaller recaller,
      LongSupplier nanoClock,
      int tickMillis,
      int maxRetained,
      long drainTimeoutNanos,
      MessageLimits limits) {
    this.spaces = spaces;
    this.queue = queue;
    this.acceptor = acceptor;
    this.recaller = recaller;
    this.nanoClock = nanoClock;
    this.maxRetained = maxRetained;
    this.drainTimeoutNanos = drainTimeoutNanos;
    this.limits = limits;
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("engram-session-ticker").daemon().factory());
    ticker.scheduleWithFixedDelay(this::tick, tickMillis, tickMillis, TimeUnit.MILLISECONDS);
  }

  /** A new stream; the transport forwards its frames to the returned connection. */
  public StreamConnection connect(SessionOutput output) {
    return new StreamConnection(this, output);
  }

  /** Opens or resumes a session and sends its {@code InitAck}. */
  Session open(String spaceIdText, String resumeId, SessionOutput output) {
    if (shuttingDown) {
      throw new UnavailableException("server is shutting down: reconnect to another server");
    }
    MemorySpace space = spaces.get(SpaceId.of(spaceIdText));
    Session session;
    if (resumeId == null || resumeId.isEmpty()) {
      session = new Session(UUID.randomUUID().toString(), space, this, nanoTime());
      sessions.put(session.id(), session);
      retireIdle();
    } else {
      session = sessions.get(resumeId);
      if (session == null || session.space() != space) {
        throw new NotFoundException(
            "session '%s' is unknown on space '%s' (expired, or the server lost it): start a new"
                    .formatted(resumeId, spaceIdText)
                + " session");
      }
    }
    session.attach(
        output,
        new SessionEvent.Capabilities(
            0,
            queue.capacity(),
            space.config().dimension(),
            limits.maxMessageBytes(),
            limits.maxBatchSize()));
    output.requestMore();
    return session;
  }

  /**
   * Recovery only, before serving: a session that existed before a restart, so its client can
   * resume it; it expects {@code nextSequence} and everything before it counts as indexed.
   */
  public void restore(String sessionId, MemorySpace space, long nextSequence) {
    sessions.putIfAbsent(sessionId, new Session(sessionId, space, this, nanoTime(), nextSequence));
  }

  /** Ends every stream on a deleted space with {@code NOT_FOUND}, and forgets its sessions. */
  public void spaceDeleted(MemorySpace space) {
    sessions
        .values()
        .removeIf(
            s -> {
              if (s.space() != space) {
                return false;
              }
              s.terminate(
                  new SessionEvent.Error(
                      StatusCode.NOT_FOUND,
                      "memory space '%s' was deleted".formatted(space.config().id())));
              return true;
            });
  }

  /**
   * Shutdown, step one: refuse new sessions. Step two ({@link #endAll}) runs after the queue has
   * drained.
   */
  public void refuseNewSessions() {
    shuttingDown = true;
  }

  /** Shutdown, step two: every open stream gets a final ack and ends with {@code UNAVAILABLE}. */
  public void endAll() {
    for (Session s : sessions.values()) {
      s.finalAckAndEnd(
          new SessionEvent.Error(
              StatusCode.UNAVAILABLE, "server is shutting down: accepted data is safe; reconnect"));
    }
  }

  public Session session(String id) {
    return sessions.get(id);
  }

  int attachedSessions() {
    int n = 0;
    for (Session s : sessions.values()) {
      if (s.attached()) {
        n++;
      }
    }
    return Math.max(1, n);
  }

  IngestQueue queue() {
    return queue;
  }

  SpaceRegistry spaces() {
    return spaces;
  }

  Acceptor acceptor() {
    return acceptor;
  }

  Recaller recaller() {
    return recaller;
  }

  long nanoTime() {
    return nanoClock.getAsLong();
  }

  MessageLimits limits() {
    return limits;
  }

  long drainTimeoutNanos() {
    return drainTimeoutNanos;
  }

  @Override
  public void close() {
    ticker.shutdownNow();
  }

  private void tick() {
    try {
      queue.sampleDrainRate();
      for (Session s : sessions.values()) {
        s.tick();
      }
    } catch (RuntimeException e) {
      System.getLogger(SessionManager.class.getName())
          .log(System.Logger.Level.ERROR, "session tick failed", e);
    }
  }

  private void retireIdle() {
    int excess = sessions.size() - maxRetained;
    if (excess <= 0) {
      return;
    }
    sessions.values().stream()
        .filter(s -> !s.attached())
        .sorted(Comparator.comparingLong(Session::lastActiveNanos))
        .limit(excess)
        .forEach(s -> sessions.remove(s.id(), s));
  }
}
