package dev.engram.server.grpc;

import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.StreamState;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * A minimal go-back-N streaming client for tests: sends numbered batches as fast as a window
 * allows, ignores backpressure signals on purpose, and on {@code Resend} goes back to the number
 * given (after {@code retry_after_ms}). It records what the server said, so tests can check the
 * server's side of the protocol under load.
 */
final class GoBackNClient {
  final List<StreamResponse> statuses = new CopyOnWriteArrayList<>();
  final List<StreamResponse> resends = new CopyOnWriteArrayList<>();
  final List<StreamResponse> rejections = new CopyOnWriteArrayList<>();
  final AtomicInteger recallsAnswered = new AtomicInteger();

  /** The order in which status and resend frames arrived, e.g. "S:BACKPRESSURE", "R:OVERLOADED". */
  final List<String> signals = new CopyOnWriteArrayList<>();

  private final String spaceId;
  private final List<Episode> episodes;
  private final int batchSize;
  private final int window;
  private final Map<String, BiConsumer<String, StreamResponse>> recallChecks =
      new ConcurrentHashMap<>();
  private final Object monitor = new Object();
  private final StreamObserver<StreamRequest> requests;
  private long accepted; // guarded by monitor
  private long next = 1; // guarded by monitor
  private long pauseUntilNanos; // guarded by monitor
  private boolean initAcked; // guarded by monitor
  private Throwable failure; // guarded by monitor

  GoBackNClient(
      ManagedChannel channel, String spaceId, List<Episode> episodes, int batchSize, int window) {
    this.spaceId = spaceId;
    this.episodes = episodes;
    this.batchSize = batchSize;
    this.window = window;
    this.requests =
        MemoryServiceGrpc.newStub(channel).stream(
            new StreamObserver<>() {
              @Override
              public void onNext(StreamResponse r) {
                received(r);
              }

              @Override
              public void onError(Throwable t) {
                synchronized (monitor) {
                  failure = t;
                  monitor.notifyAll();
                }
              }

              @Override
              public void onCompleted() {}
            });
  }

  /**
   * Streams every episode until all are acknowledged, calling {@code interleave} after each batch
   * with the sequence number of its last episode.
   */
  void run(Duration timeout, java.util.function.LongConsumer interleave)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setInit(StreamInit.newBuilder().setEnableBackpressure(true))
            .build());
    long total = episodes.size();
    while (true) {
      long from;
      int count;
      synchronized (monitor) {
        while (failure == null
            && (!initAcked
                || (accepted < total
                    && (next > total
                        || next - accepted > window
                        || System.nanoTime() < pauseUntilNanos)))) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw new AssertionError(
                "stream on %s stalled: accepted %d of %d, next %d, signals %s"
                    .formatted(spaceId, accepted, total, next, signals));
          }
          long wait = Math.max(1, Math.min(left, pauseUntilNanos - System.nanoTime()) / 1_000_000);
          monitor.wait(Math.min(wait, 50));
        }
        if (failure != null) {
          throw new AssertionError("stream on " + spaceId + " failed", failure);
        }
        if (accepted >= total) {
          break;
        }
        from = next;
        count = (int) Math.min(batchSize, total - from + 1);
        next = from + count;
      }
      send(
          StreamRequest.newBuilder()
              .setMemorySpaceId(spaceId)
              .setSequenceNumber(from)
              .setObservations(
                  EpisodeBatch.newBuilder()
                      .addAllEpisodes(episodes.subList((int) from - 1, (int) from - 1 + count)))
              .build());
      interleave.accept(from + count - 1);
    }
  }

  /** Sends a recall; {@code check} runs on the answer (or rejection). */
  void recall(String requestId, float[] cue, int k, BiConsumer<String, StreamResponse> check) {
    recallChecks.put(requestId, check);
    RecallRequest.Builder r = RecallRequest.newBuilder().setRequestId(requestId).setK(k);
    for (float x : cue) {
      r.addEmbedding(x);
    }
    send(StreamRequest.newBuilder().setMemorySpaceId(spaceId).setRecall(r).build());
  }

  long accepted() {
    synchronized (monitor) {
      return accepted;
    }
  }

  void close() {
    synchronized (requests) {
      requests.onCompleted();
    }
  }

  private void send(StreamRequest request) {
    synchronized (requests) {
      requests.onNext(request);
    }
  }

  private void received(StreamResponse r) {
    switch (r.getKindCase()) {
      case INIT_ACK -> {
        synchronized (monitor) {
          initAcked = true;
          next = r.getInitAck().getNextSequence();
          monitor.notifyAll();
        }
      }
      case ACK -> {
        synchronized (monitor) {
          accepted = Math.max(accepted, r.getAck().getAcceptedThrough());
          monitor.notifyAll();
        }
      }
      case RESEND -> {
        resends.add(r);
        signals.add("R:" + r.getResend().getReason());
        synchronized (monitor) {
          next = r.getResend().getFromSequence();
          if (r.getResend().getReason() == ResendReason.RESEND_REASON_OVERLOADED) {
            pauseUntilNanos = System.nanoTime() + r.getResend().getRetryAfterMs() * 1_000_000L;
          }
          monitor.notifyAll();
        }
      }
      case STATUS -> {
        statuses.add(r);
        StreamState state = r.getStatus().getState();
        signals.add("S:" + state.name().substring("STREAM_STATE_".length()));
      }
      case REJECTION -> {
        rejections.add(r);
        String id = r.getRejection().getMessage();
        recallChecks.forEach(
            (requestId, check) -> {
              if (id.contains("'" + requestId + "'")) {
                recallChecks.remove(requestId);
                check.accept(requestId, r);
              }
            });
      }
      case RECALL -> {
        BiConsumer<String, StreamResponse> check =
            recallChecks.remove(r.getRecall().getRequestId());
        if (check != null) {
          check.accept(r.getRecall().getRequestId(), r);
        }
        recallsAnswered.incrementAndGet();
      }
      case ERROR -> {
        synchronized (monitor) {
          failure = new AssertionError("stream error: " + r.getError());
          monitor.notifyAll();
        }
      }
      default -> {}
    }
  }
}
