package dev.engram.server.http;

import dev.engram.core.session.SessionEvent;
import dev.engram.core.session.SessionOutput;
import dev.engram.server.grpc.ProtoMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.StatusCode;

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
 * enter through synchronized blocks. Decisions (coalesce, queue, close, demand) are taken under the
 * lock; calls into Jetty are made outside it, because Jetty may call back synchronously (a close
 * runs {@code onWebSocketClose}, which takes the session's lock, while the session may be sending
 * to us under that lock). One thread at a time is the writer ({@link #writing}): it takes the next
 * frames, the demand and the close under the lock and hands them to Jetty in that order outside it,
 * so frames keep their order and the close goes last. Consecutive queued acks are coalesced (they
 * are cumulative). Impossible outcomes: a frame written after the close; events reordered; two
 * outstanding demands; more than {@code maxOutboundBytes} plus one frame held for a client.
 */
final class WsStreamOutput implements SessionOutput {
  /** Frames handed to Jetty and not yet written; more wait in {@link #backlog}. */
  static final int WRITE_WINDOW = 16;

  /** The reason of the close sent to a client that stopped reading. */
  static final String SLOW_CLIENT = "client is not reading: outbound queue over ";

  /** A close to send once the frames before it are handed over. */
  private record Close(int code, String reason) {}

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
  private boolean demanded; // guarded by this: a Jetty demand is outstanding or about to be
  private boolean demandDue; // guarded by this: the writer is to call ws.demand()
  private boolean demandDeferred; // guarded by this: granted while the queue was too full
  private boolean pingDue; // guarded by this
  private Close closeDue; // guarded by this
  private boolean
      flushAll; // guarded by this: ended normally, the rest goes out whatever the window
  private boolean writing; // guarded by this: a thread is handing frames to Jetty
  private boolean ended; // guarded by this: nothing more is queued
  private String sessionId = ""; // guarded by this

  WsStreamOutput(Session ws, InstantSource clock, long maxBytes, WsStreams streams) {
    this.ws = ws;
    this.clock = clock;
    this.maxBytes = maxBytes;
    this.streams = streams;
  }

  @Override
  public void send(SessionEvent event) {
    synchronized (this) {
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
      }
    }
    write();
  }

  @Override
  public void requestMore() {
    synchronized (this) {
      if (ended) {
        return;
      }
      if (queuedBytes >= maxBytes / 2) {
        demandDeferred = true; // granted once the client takes frames (see written)
      } else {
        scheduleDemand();
      }
    }
    write();
  }

  @Override
  public void end(SessionEvent.Error error) {
    synchronized (this) {
      if (ended) {
        return;
      }
      if (error != null) {
        backlog.addLast(frame(error));
      }
      ended = true;
      flushAll = true;
      closeDue =
          error == null
              ? new Close(StatusCode.NORMAL, "stream closed")
              : new Close(closeCode(error.code()), reason(error.message()));
    }
    write();
  }

  /**
   * Jetty delivered a data frame: the outstanding demand is used up.
   *
   * @return false if the stream has ended: the frame is to be dropped, and the next one is read at
   *     once, so Jetty sees the client's answer to our close even behind frames it was still
   *     sending
   */
  boolean received() {
    synchronized (this) {
      demanded = false;
      if (!ended) {
        return true;
      }
      scheduleDemand();
    }
    write();
    return false;
  }

  /** Jetty delivered a ping or pong: it used the demand meant for a data frame, so renew it. */
  void controlFrameReceived() {
    synchronized (this) {
      if (!demanded || ended) {
        return;
      }
      demandDue = true;
    }
    write();
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
  void keepAlive() {
    synchronized (this) {
      if (ended) {
        return;
      }
      boolean stalled = queuedBytes >= maxBytes / 2 && writesCompleted == writesAtLastCheck;
      writesAtLastCheck = writesCompleted;
      if (stalled) {
        closeSlowClient();
      } else if (inFlight == 0 && backlog.isEmpty()) {
        pingDue = true;
      }
    }
    write();
  }

  synchronized long queuedBytes() {
    return queuedBytes;
  }

  private void scheduleDemand() {
    if (!demanded) {
      demanded = true;
      demandDue = true;
    }
  }

  /** Lock held. Drops what is queued and closes with 1008; the session stays resumable. */
  private void closeSlowClient() {
    ended = true;
    for (String frame : backlog) {
      queuedBytes -= frame.length();
    }
    backlog.clear();
    streams.recordSlowClientClosed();
    closeDue = new Close(StatusCode.POLICY_VIOLATION, SLOW_CLIENT + maxBytes + " bytes");
  }

  /**
   * Lock not held. Becomes the writer unless another thread is; the writer hands Jetty everything
   * that is due, in order, and stops when nothing is.
   */
  private void write() {
    synchronized (this) {
      if (writing) {
        return;
      }
      writing = true;
    }
    while (true) {
      List<String> frames = new ArrayList<>();
      boolean demand;
      boolean ping;
      Close close;
      synchronized (this) {
        while (!backlog.isEmpty() && (flushAll || inFlight < WRITE_WINDOW)) {
          frames.add(backlog.pollFirst());
          inFlight++;
        }
        if (backlog.isEmpty()) {
          lastQueuedIsAck = false;
        }
        demand = demandDue;
        demandDue = false;
        ping = pingDue;
        pingDue = false;
        close = backlog.isEmpty() ? closeDue : null;
        if (close != null) {
          closeDue = null;
          if (!demanded) {
            demanded = true; // read on, to find the client's close reply
            demand = true;
          }
        }
        if (frames.isEmpty() && !demand && !ping && close == null) {
          writing = false;
          return;
        }
      }
      for (String frame : frames) {
        int bytes = frame.length();
        ws.sendText(frame, Callback.from(() -> written(bytes), failure -> written(bytes)));
      }
      if (demand) {
        ws.demand();
      }
      if (ping && close == null) {
        ws.sendPing(ByteBuffer.allocate(0), Callback.NOOP);
      }
      if (close != null) {
        ws.close(close.code(), close.reason(), Callback.NOOP);
      }
    }
  }

  /** Jetty's write callback, on any thread (possibly inside {@code sendText}). */
  private void written(int bytes) {
    synchronized (this) {
      inFlight--;
      queuedBytes -= bytes;
      writesCompleted++;
      if (demandDeferred && !ended && queuedBytes < maxBytes / 2) {
        demandDeferred = false;
        scheduleDemand();
      }
    }
    write();
  }

  private String frame(SessionEvent event) {
    return JsonCodec.print(ProtoMapper.toProto(event, sessionId, clock.instant()));
  }

  /** The close code that goes with a stream error (the error itself travels in-band first). */
  static int closeCode(dev.engram.core.model.StatusCode code) {
    return switch (code) {
      case UNAVAILABLE -> StatusCode.SHUTDOWN; // 1001
      case RESOURCE_EXHAUSTED -> StatusCode.TRY_AGAIN_LATER; // 1013
      case INTERNAL -> StatusCode.SERVER_ERROR; // 1011
      default -> StatusCode.POLICY_VIOLATION; // 1008
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
