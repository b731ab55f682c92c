package dev.engram.core.session;

import dev.engram.core.auth.TokenBucket;
import dev.engram.core.ingest.IndexCallback;
import dev.engram.core.ingest.IngestQueue;
import dev.engram.core.ingest.Watermark;
import dev.engram.core.model.Echo;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.Limit;
import dev.engram.core.model.LimitRefusal;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.SessionEvent.Ack;
import dev.engram.core.session.SessionEvent.Rejection;
import dev.engram.core.session.SessionEvent.Resend;
import dev.engram.core.session.SessionEvent.ResendReason;
import dev.engram.core.session.SessionEvent.Status;
import dev.engram.core.session.SessionEvent.StreamState;
import dev.engram.core.space.MemorySpace;
import dev.engram.core.storage.WriteSet;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import dev.engram.core.telemetry.Outcome;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The protocol state of one client session on one memory space: sequencing, acks, resend,
 * backpressure, recall ordering and drain on close (DESIGN.md §3, session rules). A session
 * outlives its transport stream so a client can resume it.
 *
 * <p>Sequencing: observation {@code n} is processed only when {@code n} is the expected number;
 * below it is a duplicate (acknowledged again, not stored again), above it a gap (dropped, and one
 * {@code Resend} names the expected number; further gap messages are dropped silently until it
 * arrives). Every processed number is consumed: accepted, duplicate by id, or rejected.
 *
 * <p>Concurrency: {@link #lock} guards the inbound state and the attachment; it is taken by the
 * transport's inbound thread and, with {@code tryLock}, by the ticker, so it is uncontended on the
 * accept path. Index workers touch only {@link #indexed} (its own monitor) and {@link #output}
 * (volatile, thread-safe). Every change of attachment (attach, detach, finish) is reported to the
 * {@link SessionManager} under this lock; the manager's own lock is taken inside it, never the
 * other way round. Inbound work answers and grants read credit to the stream that delivered it,
 * never to whichever stream is attached by then. Impossible outcomes: a number processed twice; an
 * ack covering a number that was not processed; a recall that misses an observation acknowledged
 * earlier on the same stream (its write set publishes it before the ack, and recall runs on the
 * inbound thread after it).
 */
public final class Session implements IndexCallback {
  private final String id;
  private final MemorySpace space;
  private final SessionManager manager;
  private final Watermark indexed;
  private final Watermark consolidated;
  private final ReentrantLock lock = new ReentrantLock();

  // Guarded by lock.
  private long expected = 1;
  private long resendPendingFrom;
  private StreamState state = StreamState.ACTIVE;
  private boolean readingPaused;
  private boolean statusPaused;
  private long lastAckAccepted = -1;
  private long lastAckIndexed = -1;
  private long lastAckConsolidated = -1;
  private long drainDeadlineNanos = -1;
  private long rateWaitUntilNanos; // 0: none

  private volatile SessionOutput output;

  Session(String id, MemorySpace space, SessionManager manager) {
    this(id, space, manager, 1);
  }

  /** A session restored after a restart: everything before {@code nextSequence} is indexed. */
  Session(String id, MemorySpace space, SessionManager manager, long nextSequence) {
    this.id = id;
    this.space = space;
    this.manager = manager;
    this.expected = nextSequence;
    this.indexed = new Watermark(nextSequence - 1);
    this.consolidated = new Watermark(nextSequence - 1);
  }

  public String id() {
    return id;
  }

  public MemorySpace space() {
    return space;
  }

  /** The next sequence number the session expects. */
  public long nextSequence() {
    lock.lock();
    try {
      return expected;
    } finally {
      lock.unlock();
    }
  }

  /** Every observation up to this number is in the vector index (or needed no indexing). */
  public long indexedThrough() {
    return indexed.through();
  }

  /**
   * Every observation up to this number is consolidated (or needed no consolidation); 0 when the
   * engine does not consolidate.
   */
  public long consolidatedThrough() {
    return manager.consolidating() ? Math.min(consolidated.through(), indexed.through()) : 0;
  }

  // ---- inbound, called by the transport's inbound thread ----

  /**
   * Observations numbered {@code firstSequence, firstSequence + 1, ...}, as {@code from} delivered
   * them. An episode is read from the list only where it is validated, so a list that decodes
   * lazily and throws {@link InvalidInputException} for one element gets that episode alone
   * rejected.
   */
  void observe(SessionOutput from, long firstSequence, List<Episode> episodes) {
    observe(from, Door.EMBEDDED, firstSequence, episodes);
  }

  /** As {@link #observe(SessionOutput, long, List)}, counting the outcomes under {@code door}. */
  void observe(SessionOutput from, Door door, long firstSequence, List<Episode> episodes) {
    observe(from, door, firstSequence, episodes, TokenBucket.UNLIMITED);
  }

  /**
   * As {@link #observe(SessionOutput, Door, long, List)}, taking each new observation from {@code
   * rate}, the stream's token's bucket: what it does not cover is asked again like an overload.
   */
  void observe(
      SessionOutput from, Door door, long firstSequence, List<Episode> episodes, TokenBucket rate) {
    IngestQueue queue = manager.queue();
    queue.acceptBegan(); // index workers yield to accepts in flight
    try {
      lock.lock();
      try {
        if (output != from) {
          return; // a stream this session was resumed away from: its frames no longer count
        }
        sequence(door, firstSequence, episodes, rate);
      } finally {
        lock.unlock();
      }
    } finally {
      queue.acceptEnded();
    }
    requestMoreIfRoom(from);
  }

  private void sequence(Door door, long firstSequence, List<Episode> episodes, TokenBucket rate) {
    long arrived = manager.nanoTime();
    EngineEvents events = manager.events();
    if (firstSequence < 1) {
      send(
          new Rejection(
              firstSequence,
              StatusCode.INVALID_ARGUMENT,
              "sequence_number is required: number observations from next_sequence (%d) on"
                  .formatted(expected)));
      return;
    }
    long last = firstSequence + episodes.size() - 1;
    if (episodes.isEmpty() || last < expected) {
      sendAck(); // duplicate: acknowledge again, store nothing
      events.observations(door, Outcome.DUPLICATE, episodes.size());
      events.acked(door, manager.nanoTime() - arrived);
      return;
    }
    if (firstSequence > expected) {
      if (resendPendingFrom != expected) {
        resendPendingFrom = expected;
        send(new Resend(expected, ResendReason.GAP, 0));
      }
      return;
    }
    resendPendingFrom = 0;
    updateStatus();
    int seen = (int) (expected - firstSequence);
    List<Episode> unseen = episodes.subList(seen, episodes.size());
    // Room for what is new: the token's rate first, then the queue; what either lacks is resent.
    int permitted = rate.take(unseen.size());
    int granted = manager.queue().tryReserve(permitted);
    rate.giveBack(permitted - granted);
    long first = expected;
    WriteSet writes = manager.acceptor().begin();
    boolean durable = false;
    int admitted = 0;
    int duplicates = seen; // numbers below the expected one, then duplicates by id
    int rejected = 0;
    try {
      for (int i = 0; i < granted; i++) {
        switch (accept(unseen, i, expected, writes, door)) {
          case ACCEPTED -> admitted++;
          case REJECTED -> rejected++;
          default -> duplicates++;
        }
        expected++;
      }
      if (expected != first) {
        writes.sessionProgress(id, space, expected - 1);
      }
    } finally {
      // Commit whatever was admitted, even if the loop failed: durable before the ack.
      durable = commit(writes, first);
    }
    if (!durable) {
      return;
    }
    events.observations(door, Outcome.ACCEPTED, admitted);
    events.observations(door, Outcome.DUPLICATE, duplicates);
    events.observations(door, Outcome.REJECTED, rejected);
    if (granted < unseen.size()) {
      events.observations(door, Outcome.REFUSED_OVERLOADED, unseen.size() - granted);
      if (granted < permitted) {
        overloaded();
      } else {
        rateLimited(door, rate, unseen.size() - granted);
      }
    }
    sendAck();
    events.acked(door, manager.nanoTime() - arrived);
  }

  /**
   * Makes a message's writes durable. On failure nothing of the message is acknowledged: the
   * expected number goes back so the client resends it, and the stream ends with the storage
   * error's status.
   */
  private boolean commit(WriteSet writes, long firstOfMessage) {
    try {
      writes.commit();
      return true;
    } catch (EngramException e) {
      expected = firstOfMessage;
      finish(new SessionEvent.Error(StatusCode.of(e), e.getMessage()));
      return false;
    }
  }

  /**
   * A recall on the stream {@code from}; it sees every observation acknowledged before it. A stream
   * recalls its own space only: an empty space id means it, any other is rejected.
   */
  void recall(SessionOutput from, long sequenceNumber, RecallQuery query) {
    recall(from, Door.EMBEDDED, sequenceNumber, query);
  }

  /** As {@link #recall(SessionOutput, long, RecallQuery)}, counted under {@code door}. */
  void recall(SessionOutput from, Door door, long sequenceNumber, RecallQuery query) {
    if (!isAttachedTo(from)) {
      return; // resumed away from: the answer would go to a stream that never asked
    }
    long started = manager.nanoTime();
    try {
      if (!query.spaceId().isEmpty() && !query.spaceId().equals(space.config().id().value())) {
        throw new InvalidInputException(
            "memory_space_id '%s' is not this stream's space '%s': a stream recalls its own space"
                    .formatted(Echo.clip(query.spaceId()), space.config().id())
                + " (leave memory_space_id empty, or use the unary Recall for another space)");
      }
      RecallResult result = manager.recaller().recall(space, query, indexed.through());
      manager.events().recalled(door, query.mode(), manager.nanoTime() - started);
      from.send(new SessionEvent.RecallAnswer(query.requestId(), result));
    } catch (EngramException e) {
      if (e instanceof LimitRefusal refusal) {
        manager.events().limitRefused(door, refusal.limit());
      }
      rejectRecall(from, sequenceNumber, query.requestId(), e);
      return;
    }
    requestMoreIfRoom(from);
  }

  /** A recall on the stream {@code from} that failed before it could run (or while it ran). */
  void rejectRecall(
      SessionOutput from, long sequenceNumber, String requestId, EngramException problem) {
    if (!isAttachedTo(from)) {
      return;
    }
    from.send(
        new Rejection(
            sequenceNumber,
            StatusCode.of(problem),
            "recall '%s': %s".formatted(Echo.clip(requestId), problem.getMessage()),
            requestId));
    requestMoreIfRoom(from);
  }

  /** The client's flow control on the stream {@code from}: pause or resume status pushes. */
  void flow(SessionOutput from, boolean pause) {
    lock.lock();
    try {
      if (output != from) {
        return;
      }
      statusPaused = pause;
    } finally {
      lock.unlock();
    }
    requestMoreIfRoom(from);
  }

  /**
   * The client on stream {@code from} is done. With {@code drain}, the final ack waits (bounded)
   * until everything accepted is indexed; without, it is sent at once. Then the stream ends. A
   * close (or half-close) from a stream the session was resumed away from is ignored: it must not
   * end the stream that resumed it (that stream was already ended by {@link #attach}).
   */
  void close(SessionOutput from, boolean drain, long drainTimeoutNanos) {
    lock.lock();
    try {
      if (output != from) {
        return;
      }
      if (!drain || indexed.through() >= expected - 1) {
        finish(null);
      } else {
        drainDeadlineNanos = manager.nanoTime() + drainTimeoutNanos;
      }
    } finally {
      lock.unlock();
    }
  }

  // ---- attachment ----

  /**
   * Binds the session to a transport stream and sends it the {@code InitAck} (and the current state
   * if it is not ACTIVE, so a resuming client does not keep pacing on a stale signal). A previous
   * stream, if any, is ended; frames it still delivers are ignored (see {@link #observe}).
   *
   * @throws dev.engram.core.model.OverloadedException if a detached session would exceed the
   *     manager's limit of attached sessions (nothing changes)
   * @throws dev.engram.core.model.NotFoundException if the session was retired meanwhile
   */
  void attach(SessionOutput newOutput, SessionEvent.Capabilities capabilities) {
    SessionOutput previous;
    lock.lock();
    try {
      previous = output;
      manager.attaching(this, previous == null);
      output = newOutput;
      resendPendingFrom = 0;
      readingPaused = false;
      drainDeadlineNanos = -1;
      lastAckAccepted = -1;
      lastAckIndexed = -1;
      newOutput.send(new SessionEvent.InitAck(id, expected, capabilities));
      if (state != StreamState.ACTIVE) {
        sendStatus(status(state, "state on resume"));
      }
    } finally {
      lock.unlock();
    }
    if (previous != null) {
      previous.end(
          new SessionEvent.Error(
              StatusCode.ABORTED, "session %s was resumed on another stream".formatted(id)));
    }
  }

  /** The transport stream ended (client gone); the session stays for a later resume. */
  void detach(SessionOutput from) {
    lock.lock();
    try {
      if (output == from) {
        output = null;
        manager.detached(this);
      }
    } finally {
      lock.unlock();
    }
  }

  boolean isAttachedTo(SessionOutput candidate) {
    return output == candidate;
  }

  /** Ends the attached stream with {@code error} (space deleted, shutdown). */
  void terminate(SessionEvent.Error error) {
    lock.lock();
    try {
      finish(error);
    } finally {
      lock.unlock();
    }
  }

  /** Shutdown: a final ack, then the stream ends with {@code error}. */
  void finalAckAndEnd(SessionEvent.Error error) {
    lock.lock();
    try {
      if (output != null) {
        send(status(StreamState.DRAINING, "server is shutting down"));
        sendAck();
      }
      finish(error);
    } finally {
      lock.unlock();
    }
  }

  // ---- periodic, called by the session ticker ----

  /** Sends news (index progress, state changes), resumes reading, completes a drain. */
  void tick() {
    if (output == null || !lock.tryLock()) {
      return; // the inbound thread is busy and acks on its own
    }
    boolean resumeReading = false;
    try {
      if (output == null) {
        return;
      }
      updateStatus();
      if (readingPaused && manager.queue().pressure() < IngestQueue.SOFT_LIMIT && !rateWaiting()) {
        readingPaused = false;
        resumeReading = true;
      }
      if (expected - 1 != lastAckAccepted
          || indexed.through() != lastAckIndexed
          || consolidatedThrough() != lastAckConsolidated) {
        sendAck();
      }
      if (drainDeadlineNanos >= 0
          && (indexed.through() >= expected - 1 || manager.nanoTime() > drainDeadlineNanos)) {
        finish(null);
      }
    } finally {
      lock.unlock();
    }
    if (resumeReading) {
      SessionOutput out = output;
      if (out != null) {
        out.requestMore();
      }
    }
  }

  // ---- index worker callbacks ----

  @Override
  public void indexed(long sequence) {
    indexed.complete(sequence);
  }

  @Override
  public void consolidated(long sequence) {
    consolidated.complete(sequence);
  }

  @Override
  public void quarantined(long sequence, String episodeId, String reason) {
    indexed.complete(sequence);
    consolidated.complete(sequence);
    send(
        new Rejection(
            sequence,
            StatusCode.INTERNAL,
            "episode '%s': %s".formatted(Echo.clip(episodeId), reason)));
  }

  // ---- internals (lock held unless noted) ----

  /**
   * Admits one episode; returns {@code ACCEPTED}, {@code DUPLICATE} (by id) or {@code REJECTED}.
   */
  private Outcome accept(
      List<Episode> episodes, int index, long sequence, WriteSet writes, Door door) {
    try {
      Episode episode = episodes.get(index); // may throw: a transport's lazily decoded element
      // The server's name for an unnamed episode; built only when needed (hot path).
      String defaultId = episode.id().isEmpty() ? id + "/" + sequence : "";
      Episode valid = manager.acceptor().validate(space, episode, defaultId, id);
      return manager.acceptor().admitReserved(space, valid, sequence, this, writes, door)
          ? Outcome.ACCEPTED
          : Outcome.DUPLICATE;
    } catch (InvalidInputException e) {
      manager.queue().release(1);
      indexed.complete(sequence);
      consolidated.complete(sequence);
      if (e instanceof LimitRefusal refusal) {
        manager.events().limitRefused(door, refusal.limit());
      }
      send(new Rejection(sequence, StatusCode.INVALID_ARGUMENT, e.getMessage()));
      return Outcome.REJECTED;
    }
  }

  private void overloaded() {
    IngestQueue queue = manager.queue();
    if (state != StreamState.OVERLOADED) {
      state = StreamState.OVERLOADED;
      manager.events().stateChanged(state);
      sendStatus(status(StreamState.OVERLOADED, "ingest queue is full: resend after a pause"));
    }
    readingPaused = true;
    resendPendingFrom = expected;
    send(new Resend(expected, ResendReason.OVERLOADED, queue.retryAfterMillis()));
  }

  /**
   * The stream's token has no permits left for {@code refused} observations: the same signals as a
   * full queue ({@code OVERLOADED}, then a {@code Resend} from the first refused number), waiting
   * until the token's bucket holds them.
   */
  private void rateLimited(Door door, TokenBucket rate, int refused) {
    manager.events().limitRefused(door, Limit.TOKEN_RATE);
    int retryAfter = rate.retryAfterMillis(refused);
    rateWaitUntilNanos = manager.nanoTime() + retryAfter * 1_000_000L;
    if (state != StreamState.OVERLOADED) {
      state = StreamState.OVERLOADED;
      manager.events().stateChanged(state);
      sendStatus(
          status(
              StreamState.OVERLOADED,
              "this token's rate limit (--token-rate %d/s) is reached: resend after a pause"
                  .formatted(rate.rate())));
    }
    readingPaused = true;
    resendPendingFrom = expected;
    send(new Resend(expected, ResendReason.OVERLOADED, retryAfter));
  }

  /** Whether a token rate wait told to the client is still running. */
  private boolean rateWaiting() {
    return rateWaitUntilNanos != 0 && manager.nanoTime() - rateWaitUntilNanos < 0;
  }

  private void updateStatus() {
    float pressure = manager.queue().pressure();
    if (state == StreamState.ACTIVE && pressure >= IngestQueue.SOFT_LIMIT) {
      state = StreamState.BACKPRESSURE;
      manager.events().stateChanged(state);
      sendStatus(status(StreamState.BACKPRESSURE, "ingest queue is filling: slow down"));
    } else if (state != StreamState.ACTIVE
        && pressure < IngestQueue.RESUME_LIMIT
        && !rateWaiting()) {
      state = StreamState.ACTIVE;
      manager.events().stateChanged(state);
      sendStatus(status(StreamState.ACTIVE, "ingest queue has room"));
    }
  }

  private Status status(StreamState newState, String message) {
    IngestQueue queue = manager.queue();
    // Before the first measurement, guess a tenth of the queue per second.
    double rate = queue.drainRate() > 0 ? queue.drainRate() : queue.capacity() / 10.0;
    float suggested =
        newState == StreamState.ACTIVE
            ? 0f
            : (float) (rate * IngestQueue.SOFT_LIMIT / manager.attachedSessions());
    return new Status(
        newState, message, queue.depth(), queue.capacity(), queue.pressure(), suggested);
  }

  private void sendStatus(Status status) {
    if (!statusPaused) {
      send(status);
    }
  }

  private void sendAck() {
    lastAckAccepted = expected - 1;
    lastAckIndexed = indexed.through();
    lastAckConsolidated = consolidatedThrough();
    send(new Ack(lastAckAccepted, lastAckIndexed, lastAckConsolidated));
  }

  private void finish(SessionEvent.Error error) {
    SessionOutput out = output;
    if (out == null) {
      return;
    }
    if (error == null) {
      sendAck();
    }
    output = null;
    drainDeadlineNanos = -1;
    manager.detached(this);
    out.end(error);
  }

  /** Any thread. */
  private void send(SessionEvent event) {
    SessionOutput out = output;
    if (out != null) {
      out.send(event);
    }
  }

  /**
   * Inbound thread, lock not held: asks {@code from}, the stream whose message was just handled,
   * for its next message, unless the queue is overloaded or the session was resumed on another
   * stream. Credit goes only to the stream that delivered the message: a late frame from a
   * superseded stream must not let the resumed one read past its own flow control.
   */
  private void requestMoreIfRoom(SessionOutput from) {
    boolean room;
    lock.lock();
    try {
      room = !readingPaused && output == from;
    } finally {
      lock.unlock();
    }
    if (room) {
      from.requestMore(); // if a resume ends `from` meanwhile, it ignores the request
    }
  }
}
