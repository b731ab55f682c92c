package dev.engram.client;

import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import io.grpc.Status;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A stream's recalls from request to answer: queued until the observations before them are sent,
 * then sent, then matched to their answer or rejection by {@code request_id}. Bounded (a recall
 * beyond {@code capacity} pending fails at once), each recall has a deadline, and {@link #failAll}
 * completes every future when the stream fails or closes.
 *
 * <p>Concurrency: every method is {@code synchronized}; futures are completed and timers cancelled
 * after the monitor is released, and this class never calls its stream, so the stream may call it
 * while holding its own lock (lock order: the stream's lock, then this). Impossible outcomes: a
 * future completed twice (only the thread that removes a recall from {@link #byId} completes it); a
 * recall sent before one queued ahead of it; more than {@code capacity} recalls pending.
 *
 * <p>Thread-safety: safe from any thread.
 */
final class PendingRecalls {
  private static final System.Logger LOG = System.getLogger(PendingRecalls.class.getName());

  private final int capacity;
  private final Duration timeout;
  private final ScheduledExecutorService scheduler;

  // ---- guarded by this ----
  private final HashMap<String, Pending> byId = new HashMap<>();
  private final ArrayDeque<Pending> unsent = new ArrayDeque<>(); // request order
  private final LinkedHashMap<String, Pending> sent = new LinkedHashMap<>(); // send order
  private Throwable closedBy;

  PendingRecalls(int capacity, Duration timeout, ScheduledExecutorService scheduler) {
    this.capacity = capacity;
    this.timeout = timeout;
    this.scheduler = scheduler;
  }

  /**
   * Registers a recall to be sent once the observation before ticket {@code after} has been sent.
   *
   * @return its future; already failed when the stream is closed, {@code capacity} recalls are
   *     pending, or one with the same {@code request_id} is
   */
  CompletableFuture<RecallResponse> add(RecallRequest request, long after) {
    CompletableFuture<RecallResponse> future = new CompletableFuture<>();
    String id = request.getRequestId();
    Throwable refused = null;
    Pending p = null;
    synchronized (this) {
      if (closedBy != null) {
        refused = closedBy;
      } else if (byId.containsKey(id)) {
        refused =
            Status.INVALID_ARGUMENT
                .withDescription("recall request_id '" + id + "' is already pending on this stream")
                .asRuntimeException();
      } else if (byId.size() >= capacity) {
        refused =
            Status.RESOURCE_EXHAUSTED
                .withDescription(
                    "%d recalls are already pending on this stream (maxPendingRecalls): wait for"
                            .formatted(capacity)
                        + " answers")
                .asRuntimeException();
      } else {
        p = new Pending(request, future, after);
        byId.put(id, p);
        unsent.addLast(p);
      }
    }
    if (refused != null) {
      future.completeExceptionally(refused);
      return future;
    }
    arm(p);
    return future;
  }

  /** The oldest unsent recall if its turn has come ({@code after <= sentThrough}), now sent. */
  synchronized RecallRequest nextReady(long sentThrough) {
    Pending p = unsent.peekFirst();
    if (p == null || p.after > sentThrough) {
      return null;
    }
    unsent.pollFirst();
    sent.put(p.request.getRequestId(), p);
    return p.request;
  }

  /** Completes the recall the answer names; false if none is pending (late, timed out). */
  boolean answered(RecallResponse response) {
    Pending p = remove(response.getRequestId());
    if (p == null) {
      return false;
    }
    p.future.complete(response);
    return true;
  }

  /** Fails the recall {@code requestId} with {@code status}; false if none is pending. */
  boolean rejected(String requestId, Status status) {
    Pending p = remove(requestId);
    if (p == null) {
      return false;
    }
    p.future.completeExceptionally(status.asRuntimeException());
    return true;
  }

  /** The call was lost: recalls sent on it go back ahead of the unsent ones, in order. */
  synchronized void requeueSent() {
    List<Pending> again = new ArrayList<>(sent.values());
    sent.clear();
    for (int i = again.size() - 1; i >= 0; i--) {
      unsent.addFirst(again.get(i));
    }
  }

  /** The stream failed or closed: every pending recall fails with {@code cause}, later ones too. */
  void failAll(Throwable cause) {
    List<Pending> all;
    synchronized (this) {
      if (closedBy == null) {
        closedBy = cause;
      }
      all = new ArrayList<>(byId.values());
      byId.clear();
      unsent.clear();
      sent.clear();
    }
    for (Pending p : all) {
      disarm(p);
      p.future.completeExceptionally(cause);
    }
  }

  synchronized int unsentCount() {
    return unsent.size();
  }

  synchronized int sentCount() {
    return sent.size();
  }

  private Pending remove(String requestId) {
    Pending p;
    synchronized (this) {
      p = byId.remove(requestId);
      if (p == null) {
        return null;
      }
      if (sent.remove(requestId) == null) {
        unsent.remove(p); // answered while requeued after a lost call: rare, so a scan is fine
      }
    }
    disarm(p);
    return p;
  }

  private void arm(Pending p) {
    try {
      ScheduledFuture<?> timer =
          scheduler.schedule(() -> expire(p), timeout.toNanos(), TimeUnit.NANOSECONDS);
      synchronized (this) {
        p.timer = timer;
      }
    } catch (RejectedExecutionException e) {
      LOG.log(Level.DEBUG, "scheduler is shut down; recall has no deadline", e);
    }
  }

  private void disarm(Pending p) {
    ScheduledFuture<?> timer;
    synchronized (this) {
      timer = p.timer;
    }
    if (timer != null) {
      timer.cancel(false);
    }
  }

  private void expire(Pending p) {
    String id = p.request.getRequestId();
    synchronized (this) {
      if (byId.get(id) != p) {
        return; // answered or failed meanwhile
      }
      byId.remove(id);
      if (sent.remove(id) == null) {
        unsent.remove(p);
      }
    }
    p.future.completeExceptionally(
        Status.DEADLINE_EXCEEDED
            .withDescription("recall '%s' got no answer within %s".formatted(id, timeout))
            .asRuntimeException());
  }

  /** One pending recall; {@link #timer} is guarded by the enclosing instance. */
  private static final class Pending {
    final RecallRequest request;
    final CompletableFuture<RecallResponse> future;
    final long after;
    ScheduledFuture<?> timer;

    Pending(RecallRequest request, CompletableFuture<RecallResponse> future, long after) {
      this.request = request;
      this.future = future;
      this.after = after;
    }
  }
}
