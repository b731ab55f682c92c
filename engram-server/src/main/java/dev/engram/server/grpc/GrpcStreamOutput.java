package dev.engram.server.grpc;

import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.InstantSource;
import java.util.ArrayDeque;

/**
 * The gRPC side of one stream: queues session events, writes them while the transport is ready, and
 * asks for inbound messages only while the outbound backlog is small (manual flow control in both
 * directions, as in grpc-java's manualflowcontrol example).
 *
 * <p>Concurrency: all mutable state is guarded by {@code this}; the session's inbound thread, the
 * ticker, index workers and gRPC's on-ready callback all enter through synchronized methods.
 * Consecutive acks are coalesced (they are cumulative), so the backlog holds at most one ack per
 * other event. Impossible outcomes: two threads writing to the call at once; a write after the call
 * ended; an event reordered relative to another.
 */
final class GrpcStreamOutput implements SessionOutput {
  /** Outbound events queued beyond this stop inbound reads until the client catches up. */
  private static final int MAX_BACKLOG = 256;

  private final ServerCallStreamObserver<StreamResponse> call;
  private final InstantSource clock;
  private final ArrayDeque<SessionEvent> backlog = new ArrayDeque<>(); // guarded by this
  private int deferredRequests; // guarded by this
  private boolean ended; // guarded by this
  private String sessionId = ""; // guarded by this

  GrpcStreamOutput(ServerCallStreamObserver<StreamResponse> call, InstantSource clock) {
    this.call = call;
    this.clock = clock;
  }

  @Override
  public synchronized void send(SessionEvent event) {
    if (ended) {
      return;
    }
    if (event instanceof SessionEvent.InitAck ack) {
      sessionId = ack.sessionId();
    }
    if (event instanceof SessionEvent.Ack && backlog.peekLast() instanceof SessionEvent.Ack) {
      backlog.pollLast();
    }
    backlog.addLast(event);
    drain();
  }

  @Override
  public synchronized void requestMore() {
    if (ended) {
      return;
    }
    if (backlog.size() >= MAX_BACKLOG) {
      deferredRequests++;
    } else {
      call.request(1);
    }
  }

  @Override
  public synchronized void end(SessionEvent.Error error) {
    if (ended) {
      return;
    }
    ended = true;
    try {
      // Readiness is advisory: the final frames are written even if the client is slow.
      while (!backlog.isEmpty()) {
        call.onNext(frame(backlog.pollFirst()));
      }
      if (error == null) {
        call.onCompleted();
      } else {
        call.onNext(frame(error));
        call.onError(
            Status.fromCodeValue(error.code().number())
                .withDescription(error.message())
                .asRuntimeException());
      }
    } catch (IllegalStateException | io.grpc.StatusRuntimeException e) {
      // The call was already cancelled by the client; nothing more can be written.
    }
  }

  /** gRPC's on-ready callback: the transport can take more frames. */
  synchronized void onReady() {
    drain();
  }

  /** The client cancelled: drop everything queued. */
  synchronized void cancelled() {
    ended = true;
    backlog.clear();
  }

  private void drain() {
    if (ended) {
      return;
    }
    try {
      while (!backlog.isEmpty() && call.isReady()) {
        call.onNext(frame(backlog.pollFirst()));
      }
    } catch (IllegalStateException | io.grpc.StatusRuntimeException e) {
      ended = true; // cancelled underneath us
      backlog.clear();
      return;
    }
    while (deferredRequests > 0 && backlog.size() < MAX_BACKLOG) {
      deferredRequests--;
      call.request(1);
    }
  }

  private StreamResponse frame(SessionEvent event) {
    return ProtoMapper.toProto(event, sessionId, clock.instant());
  }
}
