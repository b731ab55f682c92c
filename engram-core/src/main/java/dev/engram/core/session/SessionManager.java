package dev.engram.core.session;

import dev.engram.core.auth.Authorizer;
import dev.engram.core.auth.TokenQuotas;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.model.Echo;
import dev.engram.core.model.MessageLimits;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.model.UnavailableException;
import dev.engram.core.recall.Recaller;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.space.SpaceRegistry;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import java.util.LinkedHashSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Opens, resumes and retires sessions, and runs the ticker that sends periodic acks and status.
 *
 * <p>Limits: at most {@link #maxAttached} sessions are attached to a stream at once; one more (new
 * or resumed) is refused with {@code RESOURCE_EXHAUSTED} and nothing changes. Sessions outlive
 * their streams so clients can resume; detached sessions are kept in the order they detached, and
 * beyond {@link #maxRetained} the longest idle is retired, in O(1) per change.
 *
 * <p>Concurrency: sessions live in a {@link ConcurrentHashMap}; one scheduled thread ticks every
 * session every {@code tickMillis}. {@link #lock} guards the attachment bookkeeping ({@link
 * #attachedCount}, {@link #idle}) and every retirement. A session reports its attachment changes
 * while holding its own lock and takes this one inside it; this class never takes a session's lock
 * while holding its own. Impossible outcomes: an attached session retired; a retired session
 * attached again (it is no longer in {@link #sessions}, which {@link #attaching} checks under the
 * lock); more than {@link #maxAttached} sessions attached. {@link #shuttingDown} is volatile: once
 * set, no new session opens.
 */
public final class SessionManager implements AutoCloseable {
  /** How long a client refused for too many sessions is told to wait. */
  private static final int TOO_MANY_SESSIONS_RETRY_MS = 1_000;

  private final SpaceRegistry spaces;
  private final IngestQueue queue;
  private final Acceptor acceptor;
  private final Recaller recaller;
  private final TokenQuotas quotas;
  private final LongSupplier nanoClock;
  private final int maxRetained;
  private final int maxAttached;
  private final long drainTimeoutNanos;
  private final MessageLimits limits;
  private final EngineEvents events;
  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private int attachedCount; // guarded by lock
  private final LinkedHashSet<Session> idle =
      new LinkedHashSet<>(); // guarded by lock; oldest first
  private final ScheduledExecutorService ticker;
  private volatile boolean shuttingDown;
  private volatile boolean consolidating;

  /**
   * @param tickMillis how often acks and status are sent while there is news
   * @param maxRetained how many detached sessions are kept for resume
   * @param maxAttached how many sessions may be attached to a stream at once
   * @param drainTimeoutNanos the longest a draining close waits for indexing
   * @param limits the message and batch limits, advertised in every {@code InitAck}
   * @param events where stream and session events are reported (metrics)
   */
  public SessionManager(
      SpaceRegistry spaces,
      IngestQueue queue,
      Acceptor acceptor,
      Recaller recaller,
      LongSupplier nanoClock,
      int tickMillis,
      int maxRetained,
      int maxAttached,
      long drainTimeoutNanos,
      MessageLimits limits,
      EngineEvents events) {
    this.spaces = spaces;
    this.events = events;
    this.queue = queue;
    this.acceptor = acceptor;
    this.recaller = recaller;
    this.nanoClock = nanoClock;
    this.maxRetained = maxRetained;
    this.maxAttached = maxAttached;
    this.drainTimeoutNanos = drainTimeoutNanos;
    this.limits = limits;
    this.quotas = new TokenQuotas(limits, nanoClock);
    this.ticker =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("engram-session-ticker").daemon().factory());
    ticker.scheduleWithFixedDelay(this::tick, tickMillis, tickMillis, TimeUnit.MILLISECONDS);
  }

  /**
   * A new stream that names no door (in-process use); see {@link #connect(Door, SessionOutput)}.
   */
  public StreamConnection connect(SessionOutput output) {
    return connect(Door.EMBEDDED, output);
  }

  /**
   * A new stream on {@code door}; the transport forwards its frames to the returned connection, and
   * the stream's outcomes are counted under the door.
   */
  public StreamConnection connect(Door door, SessionOutput output) {
    return new StreamConnection(this, door, output, null, null);
  }

  /**
   * A new stream on {@code door} checked by {@code auth}: {@code authorization} is what the
   * transport carried (null if nothing; the init message may carry it instead).
   */
  public StreamConnection connect(
      Door door, SessionOutput output, Authorizer auth, String authorization) {
    return new StreamConnection(this, door, output, auth, authorization);
  }

  /** Sessions kept for resume (attached or not). */
  public int retainedSessions() {
    return sessions.size();
  }

  /** Sessions attached to a stream now. */
  public int attachedNow() {
    synchronized (lock) {
      return attachedCount;
    }
  }

  /** Opens or resumes a session and sends its {@code InitAck}. */
  Session open(String spaceIdText, String resumeId, SessionOutput output) {
    if (shuttingDown) {
      throw new UnavailableException("server is shutting down: reconnect to another server");
    }
    MemorySpace space = spaces.get(SpaceId.of(spaceIdText));
    SessionEvent.Capabilities capabilities =
        new SessionEvent.Capabilities(
            0,
            queue.capacity(),
            space.config().dimension(),
            limits.maxMessageBytes(),
            limits.maxBatchSize());
    Session session;
    if (resumeId == null || resumeId.isEmpty()) {
      session = new Session(UUID.randomUUID().toString(), space, this);
      sessions.put(session.id(), session);
      try {
        session.attach(output, capabilities);
      } catch (RuntimeException e) {
        sessions.remove(session.id(), session); // refused: it never existed for the client
        throw e;
      }
    } else {
      session = sessions.get(resumeId);
      if (session == null || session.space() != space) {
        throw unknownSession(resumeId, space);
      }
      session.attach(output, capabilities);
    }
    output.requestMore();
    return session;
  }

  /**
   * Recovery only, before serving: a session that existed before a restart, so its client can
   * resume it; it expects {@code nextSequence} and everything before it counts as indexed.
   */
  public void restore(String sessionId, MemorySpace space, long nextSequence) {
    Session session = new Session(sessionId, space, this, nextSequence);
    synchronized (lock) {
      if (sessions.putIfAbsent(sessionId, session) == null) {
        idle.add(session);
        retireIdle();
      }
    }
  }

  /**
   * Session's lock held: {@code session} is about to be attached to a stream; {@code wasDetached}
   * when it had none (a new or idle session), false when it moves from one stream to another.
   *
   * @throws OverloadedException if that would exceed the attached limit
   * @throws NotFoundException if the session was retired meanwhile
   */
  void attaching(Session session, boolean wasDetached) {
    if (!wasDetached) {
      return; // one stream replaces another: the count stays
    }
    synchronized (lock) {
      if (sessions.get(session.id()) != session) {
        throw unknownSession(session.id(), session.space());
      }
      if (attachedCount >= maxAttached) {
        throw new OverloadedException(
            "too many open streams: %d sessions are attached, the server's limit; close a stream or retry later"
                .formatted(attachedCount),
            TOO_MANY_SESSIONS_RETRY_MS);
      }
      idle.remove(session);
      attachedCount++;
    }
  }

  /** Session's lock held: {@code session} lost its stream; it waits for a resume, or retires. */
  void detached(Session session) {
    synchronized (lock) {
      attachedCount--;
      if (sessions.get(session.id()) == session) {
        idle.add(session);
        retireIdle();
      }
    }
  }

  /** Ends every stream on a deleted space with {@code NOT_FOUND}, and forgets its sessions. */
  public void spaceDeleted(MemorySpace space) {
    for (Session s : sessions.values()) {
      if (s.space() != space) {
        continue;
      }
      synchronized (lock) {
        sessions.remove(s.id(), s);
        idle.remove(s);
      }
      s.terminate(
          new SessionEvent.Error(
              StatusCode.NOT_FOUND,
              "memory space '%s' was deleted".formatted(space.config().id())));
    }
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

  /** Sessions attached to a stream now, at least 1 (it divides the suggested rate). */
  int attachedSessions() {
    synchronized (lock) {
      return Math.max(1, attachedCount);
    }
  }

  /** Whether acks report {@code consolidated_through} (the engine runs a consolidation worker). */
  public void reportConsolidation(boolean on) {
    this.consolidating = on;
  }

  boolean consolidating() {
    return consolidating;
  }

  IngestQueue queue() {
    return queue;
  }

  EngineEvents events() {
    return events;
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

  /** Each token's open streams and observation rate. */
  public TokenQuotas quotas() {
    return quotas;
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

  /** Lock held: retires the longest idle sessions beyond the retained limit. */
  private void retireIdle() {
    while (idle.size() > maxRetained) {
      Session oldest = idle.removeFirst();
      sessions.remove(oldest.id(), oldest);
    }
  }

  private static NotFoundException unknownSession(String id, MemorySpace space) {
    return new NotFoundException(
        "session '%s' is unknown on space '%s' (expired, or the server lost it): start a new session"
            .formatted(Echo.clip(id), space.config().id()));
  }
}
