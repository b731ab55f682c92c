package dev.engram.core.session;

import dev.engram.core.auth.Authorizer;
import dev.engram.core.auth.Principal;
import dev.engram.core.auth.Right;
import dev.engram.core.auth.TokenBucket;
import dev.engram.core.auth.TokenQuotas;
import dev.engram.core.model.Echo;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.LimitExceededException;
import dev.engram.core.model.LimitRefusal;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.telemetry.Door;
import dev.engram.core.telemetry.EngineEvents;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One transport stream as the engine sees it: the transport forwards every inbound frame here,
 * already translated into model types, and this class enforces the stream-level rules (init first,
 * known space, one space per stream, batch size) before handing frames to the {@link Session}.
 *
 * <p>Thread-safety: the transport calls the {@code on*} methods from one thread at a time (gRPC and
 * WebSocket both serialise inbound callbacks per stream); {@link #session} is volatile so the
 * ticker and shutdown may read it.
 *
 * <p>Metrics: the transport's output is wrapped once, here, so every door reports the same events
 * under its own {@link Door}: each rejection and error sent, each resend asked, and the stream's
 * open and its end, counted exactly once whether the server ended it or the transport went away.
 *
 * <p>Access: with an {@link Authorizer}, the token (the transport's, else the init message's) is
 * checked at init: any right in the stream's space opens it ({@code UNAUTHENTICATED} or {@code
 * PERMISSION_DENIED} end it otherwise, before the space is looked up); then observations need
 * {@code WRITE} (else the stream ends with {@code PERMISSION_DENIED}) and recalls {@code READ}
 * (else a {@code Rejection}). The token is checked again on every such frame (one HMAC), so a token
 * revoked or expired while its stream is open stops working at the stream's next frame.
 *
 * <p>Per-token limits ({@link TokenQuotas}): a stream holds one of its token's stream slots from
 * init until it ends, however it ends (close, error, cancel, resumed on another stream), and its
 * observations are taken from its token's rate bucket.
 */
public final class StreamConnection {
  private final SessionManager manager;
  private final Door door;
  private final MeteredOutput output;
  private final Authorizer auth; // null: no checks (in-process streams)
  private final String transportAuthorization; // null: the transport carried none
  private String credential; // the token this stream uses, chosen at init
  private TokenBucket rate = TokenBucket.UNLIMITED; // the token's, chosen at init
  private volatile Session session;
  private boolean ended;

  StreamConnection(
      SessionManager manager,
      Door door,
      SessionOutput output,
      Authorizer auth,
      String transportAuthorization) {
    this.manager = manager;
    this.door = door;
    this.auth = auth;
    this.transportAuthorization = transportAuthorization;
    this.output = new MeteredOutput(output, door, manager.events());
    manager.events().streamOpened(door);
  }

  /**
   * The stream's first message.
   *
   * @param spaceId the memory space this stream observes into
   * @param resumeSessionId a session to resume, or empty for a new one
   */
  public void onInit(String spaceId, String resumeSessionId) {
    onInit(spaceId, resumeSessionId, "");
  }

  /**
   * The stream's first message, carrying the token when the transport could not ({@code
   * StreamInit.authorization}; ignored when the transport carried one).
   */
  public void onInit(String spaceId, String resumeSessionId, String initAuthorization) {
    if (ended) {
      return;
    }
    if (session != null) {
      fail(StatusCode.FAILED_PRECONDITION, "init was already sent on this stream");
      return;
    }
    try {
      if (auth != null) {
        credential =
            transportAuthorization == null || transportAuthorization.isBlank()
                ? initAuthorization
                : transportAuthorization;
        Principal principal = auth.principal(credential);
        auth.requireAny(principal, SpaceId.of(spaceId));
        output.hold(manager.quotas().openStream(principal));
        rate = manager.quotas().bucket(principal);
      }
      session = manager.open(spaceId, resumeSessionId, output);
    } catch (EngramException e) {
      if (e instanceof LimitRefusal refusal) {
        manager.events().limitRefused(door, refusal.limit());
      }
      fail(StatusCode.of(e), e.getMessage());
    }
  }

  /**
   * Observations numbered from {@code firstSequence}. The transport may decode the list lazily: an
   * element that throws {@link InvalidInputException} when read is rejected on its own, like an
   * episode that fails validation, and its number is consumed.
   */
  public void onObservations(String spaceId, long firstSequence, List<Episode> episodes) {
    Session s = requireSession("observation");
    if (s == null) {
      return;
    }
    if (!spaceId.isEmpty() && !spaceId.equals(s.space().config().id().value())) {
      fail(
          StatusCode.INVALID_ARGUMENT,
          "observation names space '%s' but this stream is on space '%s'"
              .formatted(Echo.clip(spaceId), s.space().config().id()));
      return;
    }
    try {
      if (auth != null) {
        auth.require(auth.principal(credential), s.space().config().id(), Right.WRITE);
      }
      manager.limits().checkBatch(episodes.size());
    } catch (EngramException e) {
      if (e instanceof LimitExceededException limit) {
        manager.events().limitRefused(door, limit.limit());
      }
      fail(StatusCode.of(e), e.getMessage());
      return;
    }
    s.observe(output, door, firstSequence, episodes, rate);
  }

  /** A recall request on the stream; it may search only the stream's space. */
  public void onRecall(long sequenceNumber, RecallQuery query) {
    Session s = requireSession("recall");
    if (s == null) {
      return;
    }
    if (auth != null) {
      try {
        auth.require(auth.principal(credential), s.space().config().id(), Right.READ);
      } catch (EngramException e) {
        s.rejectRecall(output, sequenceNumber, query.requestId(), e);
        return;
      }
    }
    s.recall(output, door, sequenceNumber, query);
  }

  /**
   * A recall request the transport could not translate (a field out of range, an unknown enum
   * value): rejected like any invalid recall, and the stream stays open.
   */
  public void onMalformedRecall(
      long sequenceNumber, String requestId, InvalidInputException problem) {
    Session s = requireSession("recall");
    if (s != null) {
      s.rejectRecall(output, sequenceNumber, requestId, problem);
    }
  }

  /** Flow control from the client. */
  public void onFlow(boolean pause) {
    Session s = requireSession("flow");
    if (s != null) {
      s.flow(output, pause);
    }
  }

  /** The client closes the stream; with {@code drain}, after everything accepted is indexed. */
  public void onClose(boolean drain) {
    Session s = requireSession("close");
    if (s != null) {
      s.close(output, drain, manager.drainTimeoutNanos());
      ended = true;
    }
  }

  /** The client half-closed without a close message: end as a close without drain. */
  public void onHalfClose() {
    if (ended) {
      return;
    }
    ended = true;
    Session s = session;
    if (s == null) {
      output.end(null);
    } else {
      s.close(output, false, 0);
    }
  }

  /**
   * A frame the transport could not translate (unknown kind, a field it cannot map): the stream
   * ends with {@code INVALID_ARGUMENT} and {@code message}, which names the field. Observations and
   * recalls have gentler paths: see {@link #onObservations} and {@link #onMalformedRecall}.
   */
  public void onMalformed(String message) {
    fail(StatusCode.INVALID_ARGUMENT, message);
  }

  /**
   * A refusal no path above answered (one of the engine's own exceptions escaping a frame): the
   * stream ends with that exception's status and message, never the transport's generic error.
   */
  public void onRefused(EngramException problem) {
    fail(StatusCode.of(problem), problem.getMessage());
  }

  /** The transport stream is gone (client cancelled, connection lost, call completed). */
  public void onTransportClosed() {
    ended = true;
    output.closed();
    Session s = session;
    if (s != null) {
      s.detach(output);
    }
  }

  private Session requireSession(String what) {
    if (ended) {
      return null;
    }
    Session s = session;
    if (s != null && !s.isAttachedTo(output)) {
      return null; // resumed on another stream, which owns the session now
    }
    if (s == null) {
      fail(
          StatusCode.FAILED_PRECONDITION,
          "%s before init: the first message of a stream must be init".formatted(what));
      return null;
    }
    if (s.space().isDeleted()) {
      fail(
          StatusCode.NOT_FOUND, "memory space '%s' was deleted".formatted(s.space().config().id()));
      return null;
    }
    return s;
  }

  private void fail(StatusCode code, String message) {
    ended = true;
    Session s = session;
    if (s != null) {
      s.detach(output);
    }
    output.end(new SessionEvent.Error(code, message));
  }

  /**
   * The transport's output, counting what the client is told. Thread-safety: as the wrapped output
   * (any thread); {@link #closed} reports the stream's end once, by compare-and-set.
   */
  private static final class MeteredOutput implements SessionOutput {
    private final SessionOutput transport;
    private final Door door;
    private final EngineEvents events;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile TokenQuotas.StreamSlot slot = TokenQuotas.StreamSlot.NONE;

    MeteredOutput(SessionOutput transport, Door door, EngineEvents events) {
      this.transport = transport;
      this.door = door;
      this.events = events;
    }

    @Override
    public void send(SessionEvent event) {
      switch (event) {
        case SessionEvent.Rejection r -> events.failed(door, r.code());
        case SessionEvent.Resend r -> events.resent(r.reason());
        default -> {}
      }
      transport.send(event);
    }

    @Override
    public void requestMore() {
      transport.requestMore();
    }

    @Override
    public void end(SessionEvent.Error error) {
      if (error != null && !closed.get()) {
        events.failed(door, error.code());
      }
      closed();
      transport.end(error);
    }

    /** The stream holds one of its token's stream slots until it ends. */
    void hold(TokenQuotas.StreamSlot held) {
      slot = held;
      if (closed.get()) {
        held.release(); // ended meanwhile
      }
    }

    void closed() {
      if (closed.compareAndSet(false, true)) {
        slot.release();
        events.streamClosed(door);
      }
    }
  }
}
