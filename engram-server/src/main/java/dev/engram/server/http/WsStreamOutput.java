package dev.engram.server.http;

import dev.engram.core.model.StatusCode;
import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.server.grpc.ProtoMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.ArrayDeque;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * The WebSocket side of one stream: queues session events as JSON text frames, keeps at most {@link
 * #WRITE_WINDOW} frames in Jetty's hands at once, and grants read demand only while the outbound
 * queue is below half its bound. WebSocket has no flow control of its own, so this is where a
 * client that does not read is caught: past {@code maxOutboundBytes}, or when it has held the queue
 * above half the bound for a whole keep-alive interval without taking a frame, the socket is closed
 * with 1008 and a reason. The session is only detached, so the client may resume it.
 *
 * <p>Concurrency: all mutable state is guarded by {@code this}; the session's inbound thread (a
 * Jetty thread), the ticker, index workers, Jetty's write callbacks and the keep-alive task all
 * enter through synchronized methods. Decisions (coalesce, queue, close, demand) are taken under
 * the lock; Jetty's send/demand/close calls are asynchronous and never block. Consecutive queued
 * acks are coalesced (they are cumulative). Impossible outcomes: a frame written after the socket
 * ended; events reordered; two outstanding demands; more than {@code maxOutboundBytes} plus one
 * frame held for a client.
 */
final class WsStreamOutput implements SessionOutput {
  /** Frames handed to Jetty and not yet written; more wait in {@link #backlog}. */
  static final int WRITE_WINDOW = 16;

  /** The reason of the close sent to a client that stopped reading. */
  static final String SLOW_CLIENT = "client is not reading: outbound queue over ";

  private final Session ws;
  private final InstantSource clock;
  private final long maxBytes;
  private final WsStreams streams;

  private final ArrayDeque<String> backlog = new ArrayDeque<>(); // guarded by this
  private boolean lastQueuedIsAck; // guarded by this
  private long queuedBytes; // guarded by this: backlog plus frames in Jetty's hands
  private int inFlight; // guarded by this
  private long writesCompleted; // guarded by this
  private long writesAtLastCheck = -1; // guarded by this
  private boolean demanded; // guarded by this: a Jetty demand is outstanding
  private boolean
      demandDeferred; // guarded by this: the session granted one while the queue was full
  private boolean draining; // guarded by this
  private boolean ended; // guarded by this
  private String sessionId = ""; // guarded by this

  WsStreamOutput(Session ws, InstantSource clock, long maxBytes, WsStreams streams) {
    this.ws = ws;
    this.clock = clock;
    this.maxBytes = maxBytes;
    this.streams = streams;
  }

  @Override
  public synchronized void send(SessionEvent event) {
    if (ended) {
      return;
    }
    if (event instanceof SessionEvent.InitAck ack) {
      sessionId = ack.sessionId();
    }
    boolean isAck = event instanceof SessionEvent.Ack;
    if (isAck && lastQueuedIsAck && !backlog.isEmpty()) {
      queuedBytes -= backlog.pollLast().length();
    }
    String frame = frame(event);
    backlog.addLast(frame);
    lastQueuedIsAck = isAck;
    queuedBytes += frame.length();
    streams.recordQueued(queuedBytes);
    if (queuedBytes > maxBytes) {
      closeSlowClient();
      return;
    }
    drain();
  }

  @Override
  public synchronized void requestMore() {
    if (ended) {
      return;
    }
    if (queuedBytes >= maxBytes / 2) {
      demandDeferred = true; // granted once the client takes frames (see written)
    } else {
      demand();
    }
  }

  @Override
  public synchronized void end(SessionEvent.Error error) {
    if (ended) {
      return;
    }
    // The final frames are queued behind what Jetty holds, whatever the window.
    while (!backlog.isEmpty()) {
      write(backlog.pollFirst());
    }
    if (error != null) {
      write(frame(error));
    }
    ended = true;
    int code =
        error == null ? org.eclipse.jetty.websocket.api.StatusCode.NORMAL : closeCode(error.code());
    ws.close(code, error == null ? "stream closed" : reason(error.message()), Callback.NOOP);
  }

  /** Jetty delivered a data frame: the outstanding demand is used up. */
  synchronized void received() {
    demanded = false;
  }

  /** Jetty delivered a ping or pong: it used the demand meant for a data frame, so renew it. */
  synchronized void controlFrameReceived() {
    if (demanded && !ended) {
      ws.demand();
    }
  }

  /** The socket closed (either side) or failed: drop what is queued. */
  synchronized void closed() {
    ended = true;
    backlog.clear();
  }

  /**
   * The keep-alive task: pings an idle socket; closes one whose client has kept the queue above
   * half the bound without taking a single frame since the last check.
   */
  synchronized void keepAlive() {
    if (ended) {
      return;
    }
    boolean stalled = queuedBytes >= maxBytes / 2 && writesCompleted == writesAtLastCheck;
    writesAtLastCheck = writesCompleted;
    if (stalled) {
      closeSlowClient();
    } else if (inFlight == 0 && backlog.isEmpty()) {
      ws.sendPing(ByteBuffer.allocate(0), Callback.NOOP);
    }
  }

  synchronized long queuedBytes() {
    return queuedBytes;
  }

  private void demand() {
    if (!demanded) {
      demanded = true;
      ws.demand();
    }
  }

  private void drain() {
    if (draining) {
      return; // a write callback completed inside send(): the outer loop goes on
    }
    draining = true;
    try {
      while (!ended && !backlog.isEmpty() && inFlight < WRITE_WINDOW) {
        write(backlog.pollFirst());
      }
      if (backlog.isEmpty()) {
        lastQueuedIsAck = false;
      }
    } finally {
      draining = false;
    }
    if (demandDeferred && !ended && queuedBytes < maxBytes / 2) {
      demandDeferred = false;
      demand();
    }
  }

  private void write(String frame) {
    inFlight++;
    int bytes = frame.length();
    ws.sendText(frame, Callback.from(() -> written(bytes), failure -> written(bytes)));
  }

  private synchronized void written(int bytes) {
    inFlight--;
    queuedBytes -= bytes;
    writesCompleted++;
    drain();
  }

  private void closeSlowClient() {
    ended = true;
    queuedBytes -= backlog.stream().mapToLong(String::length).sum();
    backlog.clear();
    streams.recordSlowClientClosed();
    ws.close(
        org.eclipse.jetty.websocket.api.StatusCode.POLICY_VIOLATION,
        SLOW_CLIENT + maxBytes + " bytes",
        Callback.NOOP);
  }

  private String frame(SessionEvent event) {
    return JsonCodec.print(ProtoMapper.toProto(event, sessionId, clock.instant()));
  }

  /** The close code that goes with a stream error (the error itself travels in-band first). */
  static int closeCode(StatusCode code) {
    return switch (code) {
      case UNAVAILABLE -> org.eclipse.jetty.websocket.api.StatusCode.SHUTDOWN; // 1001
      case RESOURCE_EXHAUSTED -> org.eclipse.jetty.websocket.api.StatusCode.TRY_AGAIN_LATER; // 1013
      case INTERNAL -> org.eclipse.jetty.websocket.api.StatusCode.SERVER_ERROR; // 1011
      default -> org.eclipse.jetty.websocket.api.StatusCode.POLICY_VIOLATION; // 1008
    };
  }

  /** A close reason fits in 123 bytes of UTF-8. */
  static String reason(String message) {
    byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
    if (bytes.length <= 123) {
      return message;
    }
    String cut = new String(bytes, 0, 120, StandardCharsets.UTF_8);
    return cut.substring(0, Math.max(0, cut.length() - 1)) + "...";
  }
}
