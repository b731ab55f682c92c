package dev.engram.bench.load;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.engram.client.Rejected;
import dev.engram.client.StreamListener;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Rejection;
import dev.engram.proto.v1.Resend;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Status;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The load generator's WebSocket stream client: one session on {@code /v1/stream?space=ID} over the
 * JDK's {@link WebSocket}, one {@code StreamRequest} / {@code StreamResponse} per JSON text frame.
 * It does what the benchmark needs and no more: init, numbered {@code observations} batches of up
 * to {@code batchSize} (what is buffered when the previous frame went out, as the SDK batches),
 * cumulative acks that free the window, go-back-N on {@code Resend} (sending stops until {@code
 * retry_after_ms} has passed for an {@code OVERLOADED} one), recalls by {@code request_id}, and a
 * draining close. It does not reconnect, resume or pace itself under {@code BACKPRESSURE}: a lost
 * socket fails the stream, and {@code close} then reports it.
 *
 * <p>Observations get a 0-based <em>ticket</em>; the sequence number is {@code ticket +
 * next_sequence} from the {@code InitAck}. The {@link StreamListener} sees tickets, exactly as with
 * the SDK, so one {@link StreamMeter} measures both doors.
 *
 * <p>Concurrency: {@link #lock} guards the window and every field marked so. The producer calls
 * {@link #observe} (waits on {@link #changed} while the window is full); the JDK's listener thread
 * delivers frames one at a time (one {@code request(1)} after each) and updates the window under
 * the lock, then calls the {@link StreamListener} outside it; the <em>sender</em> thread is the
 * only writer to the socket, one frame at a time (the JDK allows one outstanding send), and
 * serialises each frame outside the lock. Impossible outcomes: a window slot reused before an ack
 * covers it; two frames in the JDK's hands at once; an observation sent before the {@code InitAck}.
 */
final class WsStreamClient implements LoadStream, WebSocket.Listener {
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final String space;
  private final int batchSize;
  private final StreamListener listener;
  private final Episode[] window; // slot ticket % length; guarded by lock
  private final ArrayDeque<StreamRequest> control = new ArrayDeque<>(); // guarded by lock
  private final Map<String, CompletableFuture<RecallResponse>> recalls = new ConcurrentHashMap<>();
  private final AtomicLong recallIds = new AtomicLong();
  private final AtomicLong resent = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final CompletableFuture<Integer> closed = new CompletableFuture<>();
  private final StringBuilder partial = new StringBuilder(); // listener thread only
  private long seqOffset = -1; // next_sequence of the InitAck, -1 before it; guarded by lock
  private long tail; // next ticket to hand out; guarded by lock
  private long cursor; // next ticket to send; guarded by lock
  private long acked = -1; // highest ticket acknowledged; guarded by lock
  private long pausedUntilNanos; // no observations before this (OVERLOADED resend); guarded by lock
  private boolean stopping; // the sender ends; guarded by lock
  private Throwable failure; // guarded by lock
  private WebSocket ws;
  private Thread sender;

  private WsStreamClient(String space, int bufferSize, int batchSize, StreamListener listener) {
    this.space = space;
    this.batchSize = batchSize;
    this.listener = listener;
    this.window = new Episode[bufferSize];
  }

  /**
   * Connects to {@code ws://hostPort/v1/stream?space=...}, sends {@code init} and waits (10 s at
   * most) for the {@code InitAck}.
   */
  static WsStreamClient open(
      String hostPort, String space, int bufferSize, int batchSize, StreamListener listener) {
    WsStreamClient c = new WsStreamClient(space, bufferSize, batchSize, listener);
    c.ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .connectTimeout(Duration.ofSeconds(10))
            .buildAsync(URI.create("ws://" + hostPort + "/v1/stream?space=" + space), c)
            .orTimeout(10, TimeUnit.SECONDS)
            .join();
    c.write(
        StreamRequest.newBuilder()
            .setMemorySpaceId(space)
            .setInit(
                StreamInit.newBuilder()
                    .setClientBufferSize(bufferSize)
                    .setEnableBackpressure(true)
                    .setMaxBatchSize(batchSize))
            .build());
    c.lock.lock();
    try {
      long wait = TimeUnit.SECONDS.toNanos(10);
      while (c.seqOffset < 0 && c.failure == null && wait > 0) {
        wait = c.changed.awaitNanos(wait);
      }
      if (c.seqOffset < 0) {
        c.ws.abort();
        throw new IllegalStateException(
            "no InitAck on the WebSocket stream for space " + space, c.failure);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      c.ws.abort();
      throw new IllegalStateException("interrupted while opening the stream", e);
    } finally {
      c.lock.unlock();
    }
    c.sender = Thread.ofPlatform().name("ws-sender-" + space).daemon().start(c::sendLoop);
    return c;
  }

  @Override
  public void observe(Episode episode) {
    lock.lock();
    try {
      while (tail - (acked + 1) >= window.length && failure == null) {
        changed.await();
      }
      if (failure != null) {
        throw new IllegalStateException("the WebSocket stream failed", failure);
      }
      window[(int) (tail % window.length)] = episode;
      tail++;
      changed.signalAll();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for window room", e);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<RecallResponse> recall(float[] embedding, int k) {
    String id = "r" + recallIds.incrementAndGet();
    RecallRequest.Builder r = RecallRequest.newBuilder().setRequestId(id).setK(k);
    for (float f : embedding) {
      r.addEmbedding(f);
    }
    CompletableFuture<RecallResponse> answer = new CompletableFuture<>();
    recalls.put(id, answer);
    lock.lock();
    try {
      control.add(StreamRequest.newBuilder().setRecall(r).build());
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    return answer;
  }

  @Override
  public long resent() {
    return resent.get();
  }

  @Override
  public long rejected() {
    return rejected.get();
  }

  @Override
  public boolean close(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long last;
    boolean allAcked;
    lock.lock();
    try {
      while (acked < tail - 1 && failure == null && System.nanoTime() < deadline) {
        changed.awaitNanos(deadline - System.nanoTime());
      }
      allAcked = acked == tail - 1 && failure == null;
      System.err.println(
          "DEBUG close acked="
              + acked
              + " tail="
              + tail
              + " cursor="
              + cursor
              + " failure="
              + failure);
      last = tail - 1 + seqOffset;
      stopping = true;
      changed.signalAll();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      allAcked = false;
      last = 0;
    } finally {
      lock.unlock();
    }
    try {
      sender.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      if (sender.isAlive() || !allAcked) {
        ws.abort();
        return false;
      }
      write(
          StreamRequest.newBuilder()
              .setClose(StreamClose.newBuilder().setDrainQueue(true).setLastSequence(last))
              .build());
      int code = closed.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return code == WebSocket.NORMAL_CLOSURE;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      ws.abort();
      return false;
    } catch (Exception e) {
      ws.abort();
      return false;
    }
  }

  // ---- the sender thread ----

  private void sendLoop() {
    try {
      while (true) {
        StreamRequest next;
        lock.lock();
        try {
          while ((next = nextLocked()) == null) {
            if (stopping || failure != null) {
              return;
            }
            long pause = pausedUntilNanos - System.nanoTime();
            if (pause > 0 && cursor < tail) {
              changed.awaitNanos(pause);
            } else {
              changed.await();
            }
          }
        } finally {
          lock.unlock();
        }
        write(next);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  /** Under the lock: a waiting recall first, then the next batch if sending is allowed. */
  private StreamRequest nextLocked() {
    StreamRequest c = control.poll();
    if (c != null) {
      return c;
    }
    if (cursor >= tail || System.nanoTime() < pausedUntilNanos) {
      return null;
    }
    int n = (int) Math.min(batchSize, tail - cursor);
    List<Episode> batch = new ArrayList<>(n);
    for (long t = cursor; t < cursor + n; t++) {
      batch.add(window[(int) (t % window.length)]);
    }
    StreamRequest r =
        StreamRequest.newBuilder()
            .setSequenceNumber(cursor + seqOffset)
            .setObservations(EpisodeBatch.newBuilder().addAllEpisodes(batch))
            .build();
    cursor += n;
    return r;
  }

  private void write(StreamRequest request) {
    String json;
    try {
      json = PRINTER.print(request);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print a StreamRequest as JSON", e);
    }
    ws.sendText(json, true).join();
  }

  // ---- frames from the server (the JDK's listener thread, one at a time) ----

  @Override
  public void onOpen(WebSocket webSocket) {
    webSocket.request(1);
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    partial.append(data);
    if (last) {
      StreamResponse.Builder b = StreamResponse.newBuilder();
      try {
        PARSER.merge(partial.toString(), b);
        partial.setLength(0);
        handle(b.build());
      } catch (InvalidProtocolBufferException e) {
        fail(new IllegalStateException("a frame that is not a StreamResponse", e));
      }
    }
    webSocket.request(1);
    return null;
  }

  private void handle(StreamResponse r) {
    switch (r.getKindCase()) {
      case INIT_ACK -> {
        lock.lock();
        try {
          seqOffset = r.getInitAck().getNextSequence();
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      }
      case ACK -> onAck(r.getAck());
      case STATUS -> listener.onStatus(r.getStatus());
      case RESEND -> onResend(r.getResend());
      case RECALL -> {
        CompletableFuture<RecallResponse> f = recalls.remove(r.getRecall().getRequestId());
        if (f != null) {
          f.complete(r.getRecall());
        }
      }
      case REJECTION -> onRejection(r.getRejection());
      case ERROR ->
          fail(
              new IllegalStateException(
                  "StreamError " + r.getError().getCode() + ": " + r.getError().getMessage()));
      default -> {}
    }
  }

  private void onAck(ObservationAck ack) {
    long through;
    long indexed;
    lock.lock();
    try {
      through = ack.getAcceptedThrough() - seqOffset;
      indexed = ack.getIndexedThrough() - seqOffset;
      if (through > acked) {
        acked = through;
        cursor = Math.max(cursor, acked + 1);
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
    listener.onAcknowledged(through, indexed);
  }

  private void onResend(Resend resend) {
    long from;
    lock.lock();
    try {
      from = resend.getFromSequence() - seqOffset;
      if (from < cursor) {
        resent.addAndGet(cursor - from);
        cursor = Math.max(from, acked + 1);
      }
      if (resend.getReason() == ResendReason.RESEND_REASON_OVERLOADED) {
        pausedUntilNanos =
            System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(resend.getRetryAfterMs());
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    listener.onResend(from, resend.getReason(), resend.getRetryAfterMs());
  }

  private void onRejection(Rejection rejection) {
    if (!rejection.getRequestId().isEmpty()) {
      CompletableFuture<RecallResponse> f = recalls.remove(rejection.getRequestId());
      if (f != null) {
        f.completeExceptionally(new IllegalStateException(rejection.getMessage()));
      }
      return;
    }
    rejected.incrementAndGet();
    long ticket;
    Episode episode;
    lock.lock();
    try {
      ticket = rejection.getSequenceNumber() - seqOffset;
      episode = window[(int) (Math.floorMod(ticket, (long) window.length))];
    } finally {
      lock.unlock();
    }
    listener.onRejected(
        new Rejected(
            ticket,
            episode,
            Status.fromCodeValue(rejection.getCode()).getCode(),
            rejection.getMessage()));
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    closed.complete(statusCode);
    if (statusCode != WebSocket.NORMAL_CLOSURE) {
      fail(new IllegalStateException("socket closed " + statusCode + ": " + reason));
    }
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    closed.complete(-1);
    fail(error);
  }

  private void fail(Throwable cause) {
    lock.lock();
    try {
      if (failure == null) {
        failure = cause;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    recalls.values().forEach(f -> f.completeExceptionally(cause));
  }
}
