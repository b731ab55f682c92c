package dev.engram.client;

import com.google.protobuf.CodedOutputStream;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Resend;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamInitAck;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.StreamState;
import dev.engram.proto.v1.StreamStatus;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One observe-and-recall stream on one memory space, kept alive across lost connections: it buffers
 * every observation until the server acknowledges it, batches what is queued, paces itself under
 * backpressure, resends on request and resumes its session after a reconnect, so every observation
 * is stored exactly once (DESIGN.md §3 and §5.3).
 *
 * <p>Observations get a <em>ticket</em>, their 0-based position in this stream. Tickets never
 * change; sequence numbers are {@code ticket + seqOffset}, where the offset is fixed per server
 * session (a new session after the server forgot the old one renumbers the buffer from its {@code
 * next_sequence} by changing the offset). Episodes without an id get {@code <stream-uuid>-<n>}, so
 * a resend is idempotent even in a new session.
 *
 * <p>Concurrency: {@link #lock} guards every mutable field below it. Callers of {@link #observe}
 * and {@link #recall}, gRPC callback threads (responses, on-ready) and the scheduler (backoff,
 * pauses, pacing) all enter under it; none calls into gRPC or the listener while holding it, except
 * for {@code isReady()} which never blocks. Exactly one thread at a time writes to the call: the
 * <em>pump</em>, elected by the {@code pumping} flag under the lock, which takes one message under
 * the lock and sends it outside. It writes only while the call {@code isReady()} and resumes from
 * the on-ready callback, so the SDK never floods the transport. Waits (an {@code OVERLOADED}
 * resend's {@code retry_after_ms}, pacing tokens under {@code BACKPRESSURE}, reconnect backoff) are
 * timers on the scheduler that only kick the pump or reconnect; an earlier deadline always gets its
 * own timer. Callbacks of a replaced call are recognised by their generation and ignored. Recalls
 * are tracked by {@link PendingRecalls} (its own monitor, taken after this lock, never before).
 *
 * <p>Message size: a message never exceeds the server's advertised {@code max_message_bytes} (4 MiB
 * until an {@code InitAck} says otherwise) nor its {@code max_batch_size}: batches are cut by
 * bytes, and an episode that cannot fit alone is refused by {@code observe} with {@link
 * EpisodeTooLargeException}. Reconnects: a call that ends while work sent on it went unacknowledged
 * is a <em>stalled</em> call; the retry count and backoff reset only after a call that was not
 * stalled, and the same status (other than {@code UNAVAILABLE}) ending {@code maxRepeatedFailures}
 * stalled calls in a row fails the stream instead of retrying forever.
 *
 * <p>Impossible outcomes: an observation dropped from the buffer before an ack covers it or the
 * server rejects it; more than {@code bufferSize} observations buffered; two threads writing to one
 * call; an observation sent on a call before its session was established.
 *
 * <p>Thread-safety: every public method is safe from any thread.
 */
public final class EngramStream implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(EngramStream.class.getName());

  /** Slowest pace the stream accepts from a {@code suggested_rate}, observations per second. */
  private static final double MIN_PACING_RATE = 100;

  /** Longest single wait for pacing tokens before the pump looks again. */
  private static final long MAX_PACING_WAIT_NANOS = 100_000_000L;

  /** The server's message limit until its {@code InitAck} states one: gRPC's default. */
  static final int DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;

  /**
   * Bytes of a {@code StreamRequest} beyond its episodes: space id (at most 64 characters),
   * sequence number and the tags and lengths around the episodes.
   */
  private static final int FRAME_OVERHEAD = 128;

  private final MemoryServiceGrpc.MemoryServiceStub stub;
  private final String spaceId;
  private final StreamOptions options;
  private final StreamListener listener;
  private final Executor executor;
  private final ScheduledExecutorService scheduler;
  private final String idPrefix = UUID.randomUUID().toString();
  private final AtomicLong idCounter = new AtomicLong();
  private final AtomicLong recallCounter = new AtomicLong();
  private final int capacity;
  private final PendingRecalls recalls;

  /** The server's {@code max_message_bytes}; written under {@link #lock}, read by observers. */
  private volatile int messageLimit = DEFAULT_MAX_MESSAGE_BYTES;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();

  // ---- all guarded by lock ----
  private final Entry[] ring;
  private long head; // ticket of the oldest buffered observation
  private long tail; // the next ticket to hand out
  private long cursor; // the next ticket to send on the current call
  private long sentHighWater; // the first ticket never sent on any call
  private long seqOffset; // sequence number = ticket + seqOffset, for the current session
  private String sessionId = "";
  private Call current;
  private int generation;
  private int attempts;
  private boolean pumping;
  private boolean pumpScheduled;
  private long delayedPumpAtNanos = Long.MAX_VALUE; // earliest pending timed pump, MAX if none
  private long pausedUntilNanos;
  private double pacingRate; // observations per second; 0 = unlimited
  private double tokens;
  private long tokensAtNanos;
  private StreamState state = StreamState.STREAM_STATE_UNSPECIFIED;
  private int serverMaxBatch = Integer.MAX_VALUE; // the server's max_batch_size
  private Status.Code lastStall; // status that ended the last stalled call, null after progress
  private int repeatedStalls; // stalled calls in a row that ended with lastStall
  private Runnable deferred; // a failure decided by the pump, run after it lets go of the lock
  private boolean closing;
  private boolean finished;
  private StreamFailedException failure;
  private long acked;
  private long rejected;
  private long resent;
  private long reconnects;
  private long indexedThrough = -1;
  private long consolidatedThrough = -1;
  private final SplittableRandom jitter;

  EngramStream(
      MemoryServiceGrpc.MemoryServiceStub stub,
      String spaceId,
      StreamOptions options,
      Executor executor,
      ScheduledExecutorService scheduler) {
    this.stub = stub;
    this.spaceId = spaceId;
    this.options = options;
    this.listener = options.listener();
    this.executor = executor;
    this.scheduler = scheduler;
    this.capacity = options.bufferSize();
    this.ring = new Entry[capacity];
    this.jitter = new SplittableRandom(options.jitterSeed());
    this.recalls =
        new PendingRecalls(options.maxPendingRecalls(), options.recallTimeout(), scheduler);
    connect();
  }

  public String spaceId() {
    return spaceId;
  }

  // ---- observe ----

  /**
   * Queues an observation; it is sent when the transport is ready, batched with others queued
   * behind it, and kept until the server acknowledges it. Episodes without an id get one.
   *
   * @return the observation's ticket (0-based position in this stream)
   * @throws BufferFullException if the buffer is full: at once under {@link FullPolicy#FAIL_FAST},
   *     after the configured wait under {@link FullPolicy#BLOCK}
   * @throws EpisodeTooLargeException if the episode alone is over the server's message limit
   * @throws StreamFailedException if the stream has failed or is closing
   */
  public long observe(Episode episode) {
    Episode e = withId(episode);
    checkFits(e);
    lock.lock();
    try {
      if (tail - head >= capacity) {
        if (options.fullPolicy() == FullPolicy.FAIL_FAST) {
          throwIfUnusable();
          throw new BufferFullException(
              capacity, "stream buffer is full (" + capacity + " unacknowledged observations)");
        }
        long remaining = options.blockTimeout().toNanos();
        while (tail - head >= capacity && remaining > 0) {
          throwIfUnusable();
          remaining = changed.awaitNanos(remaining);
        }
        if (tail - head >= capacity) {
          throw new BufferFullException(
              capacity,
              "stream buffer stayed full ("
                  + capacity
                  + " unacknowledged observations) for "
                  + options.blockTimeout());
        }
      }
      return enqueue(e);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new BufferFullException(capacity, "interrupted while waiting for buffer room");
    } finally {
      lock.unlock();
    }
  }

  /**
   * Queues an observation if the buffer has room, never waiting.
   *
   * @return false if the buffer is full (the observation was not taken)
   * @throws EpisodeTooLargeException if the episode alone is over the server's message limit
   * @throws StreamFailedException if the stream has failed or is closing
   */
  public boolean tryObserve(Episode episode) {
    Episode e = withId(episode);
    checkFits(e);
    lock.lock();
    try {
      if (tail - head >= capacity) {
        throwIfUnusable();
        return false;
      }
      enqueue(e);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The bytes a message carrying only {@code e} takes. */
  private static long messageBytes(Episode e) {
    return FRAME_OVERHEAD + episodeBytes(e);
  }

  /** The bytes {@code e} adds to a message: its tag, its length and itself. */
  private static int episodeBytes(Episode e) {
    int size = e.getSerializedSize();
    return 1 + CodedOutputStream.computeUInt32SizeNoTag(size) + size;
  }

  private void checkFits(Episode e) {
    long bytes = messageBytes(e);
    int limit = messageLimit;
    if (bytes > limit) {
      throw new EpisodeTooLargeException(e.getId(), bytes, limit);
    }
  }

  /** Ids the stream generates are {@code <prefix>-<n>}, n = 0, 1, ... in observe order. */
  String generatedIdPrefix() {
    return idPrefix;
  }

  private Episode withId(Episode episode) {
    if (!episode.getId().isEmpty()) {
      return episode;
    }
    return episode.toBuilder().setId(idPrefix + "-" + idCounter.getAndIncrement()).build();
  }

  /** Lock held. */
  private long enqueue(Episode episode) {
    throwIfUnusable();
    long ticket = tail++;
    ring[slot(ticket)] = new Entry(episode);
    kickLocked();
    return ticket;
  }

  /** Lock held. */
  private void throwIfUnusable() {
    if (failure != null) {
      throw failure;
    }
    if (closing || finished) {
      throw new StreamFailedException(Status.CANCELLED, "stream is closing or closed");
    }
  }

  // ---- recall ----

  /**
   * Recalls on the stream. It is sent after every observation queued before it, so in the normal
   * case it sees them (the server reads a session's own writes); observations the server asked to
   * have resent may be missed. Unanswered recalls are sent again after a reconnect.
   *
   * <p>An empty {@code memory_space_id} means this stream's space; an empty {@code request_id} is
   * filled in. The answer is matched by {@code request_id}. The future fails with a {@link
   * io.grpc.StatusRuntimeException}: the server's code if it rejects the recall, {@code
   * DEADLINE_EXCEEDED} after {@link StreamOptions#recallTimeout()}, {@code RESOURCE_EXHAUSTED} at
   * once when {@link StreamOptions#maxPendingRecalls()} are pending, {@code INVALID_ARGUMENT} at
   * once when its {@code request_id} is; or with {@link StreamFailedException} if the stream ends.
   */
  public CompletableFuture<RecallResponse> recall(RecallRequest cue) {
    RecallRequest.Builder b = cue.toBuilder();
    if (b.getMemorySpaceId().isEmpty()) {
      b.setMemorySpaceId(spaceId);
    }
    if (b.getRequestId().isEmpty()) {
      b.setRequestId(idPrefix + "-r" + recallCounter.getAndIncrement());
    }
    lock.lock();
    try {
      if (failure != null) {
        return CompletableFuture.failedFuture(failure);
      }
      if (closing || finished) {
        return CompletableFuture.failedFuture(
            new StreamFailedException(Status.CANCELLED, "stream is closing or closed"));
      }
      CompletableFuture<RecallResponse> future = recalls.add(b.build(), tail);
      kickLocked();
      return future;
    } finally {
      lock.unlock();
    }
  }

  /** Recalls the {@code k} memories nearest to {@code embedding}. */
  public CompletableFuture<RecallResponse> recall(float[] embedding, int k) {
    RecallRequest.Builder b = RecallRequest.newBuilder().setK(k);
    for (float f : embedding) {
      b.addEmbedding(f);
    }
    return recall(b.build());
  }

  /**
   * Recalls the {@code k} memories whose content best matches {@code text} (BM25, {@code
   * RECALL_MODE_HYBRID} with a text cue); for a vector and text together or a {@code RecallFilter},
   * build the {@link RecallRequest} and call {@link #recall(RecallRequest)}.
   */
  public CompletableFuture<RecallResponse> recallText(String text, int k) {
    return recall(
        RecallRequest.newBuilder()
            .setText(text)
            .setK(k)
            .setMode(RecallMode.RECALL_MODE_HYBRID)
            .build());
  }

  // ---- state ----

  /** A snapshot of the stream's counters and state. */
  public StreamStats stats() {
    lock.lock();
    try {
      Call c = current;
      return new StreamStats(
          c != null && c.established,
          sessionId,
          tail,
          tail - head,
          acked,
          rejected,
          resent,
          reconnects,
          indexedThrough,
          state,
          pacingRate,
          consolidatedThrough);
    } finally {
      lock.unlock();
    }
  }

  /** Internal state for diagnostics (tests, logs); the format is not stable. */
  String debugState() {
    lock.lock();
    try {
      Call c = current;
      return "head=%d tail=%d cursor=%d seqOffset=%d pumping=%b pumpScheduled=%b delayed=%b paused=%dms ready=%s established=%s recalls=%d/%d"
          .formatted(
              head,
              tail,
              cursor,
              seqOffset,
              pumping,
              pumpScheduled,
              delayedPumpAtNanos != Long.MAX_VALUE,
              Math.max(0, (pausedUntilNanos - System.nanoTime()) / 1_000_000),
              c == null || c.requests == null ? "-" : c.requests.isReady(),
              c == null ? "-" : c.established,
              recalls.unsentCount(),
              recalls.sentCount());
    } finally {
      lock.unlock();
    }
  }

  // ---- close ----

  /**
   * Waits (up to the configured close timeout) until every buffered observation is acknowledged,
   * then sends {@code close{drain_queue=true}} and waits for the final ack and the end of the call.
   * Logs a warning if that does not finish in time; {@link #close(Duration)} says so instead.
   */
  @Override
  public void close() {
    if (!close(options.closeTimeout())) {
      LOG.log(
          Level.WARNING,
          "stream on space ''{0}'' closed before draining: {1}",
          spaceId,
          stats().toString());
    }
  }

  /**
   * Drains and closes, waiting at most {@code timeout}.
   *
   * @return true if every observation was acknowledged and the server ended the call cleanly
   */
  public boolean close(Duration timeout) {
    long remaining = timeout.toNanos();
    boolean clean;
    Call toCancel = null;
    lock.lock();
    try {
      closing = true;
      kickLocked();
      while (!finished && failure == null && remaining > 0) {
        remaining = changed.awaitNanos(remaining);
      }
      clean = finished && failure == null && head == tail;
      if (!finished) {
        finished = true;
        toCancel = current;
        current = null;
        generation++;
      }
      changed.signalAll();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      clean = false;
      finished = true;
      toCancel = current;
      current = null;
      generation++;
    } finally {
      lock.unlock();
    }
    if (toCancel != null && toCancel.requests != null) {
      toCancel.requests.cancel("stream closed by the client", null);
    }
    recalls.failAll(new StreamFailedException(Status.CANCELLED, "stream closed"));
    return clean;
  }

  // ---- connection ----

  private void connect() {
    Call c;
    lock.lock();
    try {
      if (finished || failure != null) {
        return;
      }
      c = new Call(++generation, sessionId);
    } finally {
      lock.unlock();
    }
    try {
      stub.stream(c);
    } catch (RuntimeException e) {
      c.onError(e);
      return;
    }
    lock.lock();
    try {
      if (c.generation == generation && !c.done) {
        current = c;
        kickLocked();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Lock held: the call ended; decide between reconnect, new session and failure. */
  private Runnable disconnectedLocked(Call c, Status ended) {
    Status status =
        ended != null
            ? ended
            : c.closeSent
                ? Status.OK
                : Status.UNAVAILABLE.withDescription("server ended the stream");
    current = null;
    c.done = true;
    generation++;
    recalls.requeueSent();
    if (finished) {
      return null;
    }
    if (closing && c.closeSent && status.isOk()) {
      finished = true;
      changed.signalAll();
      return null;
    }
    Status.Code code = c.inBandError != null ? c.inBandError.getCode() : status.getCode();
    Status effective = c.inBandError != null ? c.inBandError : status;
    if (code == Status.Code.NOT_FOUND && !c.resumeId.isEmpty() && !c.established) {
      // The server forgot the session (expiry, restart): start a new one and renumber.
      sessionId = "";
    } else if (isPermanent(code)) {
      return failLocked(
          effective, "stream on space '" + spaceId + "' failed: " + describe(effective));
    }
    boolean stalled = c.workSent && !c.progressed;
    if (c.established && !stalled) {
      attempts = 0; // the call worked: a fresh run of retries
      lastStall = null;
      repeatedStalls = 0;
    } else if (stalled && code != Status.Code.UNAVAILABLE) {
      repeatedStalls = code == lastStall ? repeatedStalls + 1 : 1;
      lastStall = code;
      if (repeatedStalls >= options.maxRepeatedFailures()) {
        return failLocked(
            effective,
            ("stream on space '%s' failed: the server ended it %d times in a row with %s while"
                    + " observations or recalls were in flight and none was acknowledged"
                    + " (ticket %d onward): %s")
                .formatted(spaceId, repeatedStalls, code, head, describe(effective)));
      }
    }
    attempts++;
    if (attempts > options.maxReconnectAttempts()) {
      return failLocked(
          effective,
          "stream on space '%s' gave up after %d reconnect attempts: %s"
              .formatted(spaceId, attempts - 1, describe(effective)));
    }
    reconnects++;
    long delayMillis = backoffMillisLocked();
    int attempt = attempts;
    Throwable cause = effective.asRuntimeException();
    scheduleQuietly(this::connect, delayMillis);
    return () -> listener.onDisconnected(cause, attempt, delayMillis);
  }

  private static boolean isPermanent(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT,
          NOT_FOUND,
          FAILED_PRECONDITION,
          PERMISSION_DENIED,
          UNAUTHENTICATED,
          UNIMPLEMENTED,
          OUT_OF_RANGE,
          ALREADY_EXISTS ->
          true;
      default -> false;
    };
  }

  private static String describe(Status s) {
    return s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
  }

  /** Lock held. */
  private long backoffMillisLocked() {
    long initial = options.initialBackoff().toMillis();
    long max = options.maxBackoff().toMillis();
    int shift = Math.min(attempts - 1, 30);
    long delay = Math.min(max, initial << shift);
    // Equal jitter: half fixed, half random, so clients that lost one server do not return in step.
    return delay / 2 + jitter.nextLong(delay / 2 + 1);
  }

  /** Lock held. */
  private Runnable failLocked(Status status, String message) {
    failure = new StreamFailedException(status, message);
    finished = true;
    changed.signalAll();
    StreamFailedException f = failure;
    return () -> {
      recalls.failAll(f);
      listener.onFailed(f);
    };
  }

  // ---- the pump: the only writer to the call ----

  /** Lock held: makes sure a pump runs soon. */
  private void kickLocked() {
    if (!pumping && !pumpScheduled) {
      pumpScheduled = true;
      try {
        executor.execute(this::pump);
      } catch (RejectedExecutionException e) {
        pumpScheduled = false;
      }
    }
  }

  private void kick() {
    lock.lock();
    try {
      kickLocked();
    } finally {
      lock.unlock();
    }
  }

  private void pump() {
    lock.lock();
    try {
      pumpScheduled = false;
      if (pumping) {
        return;
      }
      pumping = true;
    } finally {
      lock.unlock();
    }
    while (true) {
      StreamRequest message;
      Call c;
      Runnable after = null;
      lock.lock();
      try {
        c = current;
        message = c == null ? null : nextMessageLocked(c);
        if (message == null) {
          pumping = false;
          after = deferred;
          deferred = null;
        }
      } finally {
        lock.unlock();
      }
      if (message == null) {
        if (after != null) {
          safely(after);
        }
        return;
      }
      try {
        c.requests.onNext(message);
      } catch (RuntimeException e) {
        // The call was cancelled underneath us; its onError callback reconnects.
        LOG.log(Level.DEBUG, "send failed on a closing call", e);
      }
    }
  }

  /** Lock held: the next message for {@code c}, or null when there is nothing to send now. */
  private StreamRequest nextMessageLocked(Call c) {
    if (c.requests == null || !c.requests.isReady()) {
      return null; // the on-ready callback kicks again
    }
    if (!c.initSent) {
      c.initSent = true;
      return StreamRequest.newBuilder()
          .setMemorySpaceId(spaceId)
          .setSessionId(c.resumeId)
          .setInit(
              StreamInit.newBuilder()
                  .setClientBufferSize(capacity)
                  .setEnableBackpressure(true)
                  .setMaxBatchSize(options.maxBatchSize()))
          .build();
    }
    if (!c.established || c.closeSent) {
      return null;
    }
    if (cursor < head) {
      cursor = head;
    }
    RecallRequest recall = recalls.nextReady(Math.max(cursor, head));
    if (recall != null) {
      c.workSent = true;
      return StreamRequest.newBuilder().setMemorySpaceId(spaceId).setRecall(recall).build();
    }
    if (closing && head == tail) {
      c.closeSent = true;
      return StreamRequest.newBuilder()
          .setMemorySpaceId(spaceId)
          .setClose(
              StreamClose.newBuilder().setDrainQueue(true).setLastSequence(tail - 1 + seqOffset))
          .build();
    }
    if (cursor >= tail) {
      return null;
    }
    long now = System.nanoTime();
    if (now < pausedUntilNanos) {
      scheduleDelayedPumpLocked(pausedUntilNanos - now);
      return null;
    }
    int n = (int) Math.min(tail - cursor, Math.min(options.maxBatchSize(), serverMaxBatch));
    if (pacingRate > 0) {
      tokens =
          Math.min(Math.max(1, pacingRate / 20), tokens + (now - tokensAtNanos) * pacingRate / 1e9);
      tokensAtNanos = now;
      if (tokens < 1) {
        scheduleDelayedPumpLocked(
            Math.min(MAX_PACING_WAIT_NANOS, (long) ((1 - tokens) / pacingRate * 1e9)));
        return null;
      }
      n = (int) Math.min(n, Math.floor(tokens));
      tokens -= n;
    }
    int requested = n;
    long first = cursor;
    Episode head1 = ring[slot(first)].episode;
    int limit = messageLimit;
    if (messageBytes(head1) > limit) {
      // Taken under a larger limit than this server's: the protocol cannot skip its number.
      deferred =
          failLocked(
              Status.RESOURCE_EXHAUSTED,
              new EpisodeTooLargeException(head1.getId(), messageBytes(head1), limit).getMessage()
                  + " (ticket %d, buffered before this server stated its limit)".formatted(first));
      return null;
    }
    // Cut by bytes: the message stays under the server's limit and the client's batch size.
    long budget = Math.min(options.maxBatchBytes(), limit - FRAME_OVERHEAD);
    long bytes = episodeBytes(head1);
    int taken = 1;
    while (taken < n) {
      Episode e = ring[slot(first + taken)].episode;
      long more = episodeBytes(e);
      if (bytes + more > budget) {
        break;
      }
      bytes += more;
      taken++;
    }
    n = taken;
    StreamRequest.Builder out =
        StreamRequest.newBuilder().setMemorySpaceId(spaceId).setSequenceNumber(first + seqOffset);
    if (n == 1) {
      out.setObservation(head1);
    } else {
      EpisodeBatch.Builder batch = EpisodeBatch.newBuilder();
      for (int i = 0; i < n; i++) {
        batch.addEpisodes(ring[slot(first + i)].episode);
      }
      out.setObservations(batch);
    }
    if (pacingRate > 0 && n < requested) {
      tokens += requested - n; // tokens taken for episodes this message does not carry
    }
    c.workSent = true;
    cursor = first + n;
    if (first < sentHighWater) {
      resent += Math.min(sentHighWater, cursor) - first;
    }
    sentHighWater = Math.max(sentHighWater, cursor);
    return out.build();
  }

  /**
   * Lock held: a pump at {@code delayNanos} from now, unless one is already due by then. An earlier
   * deadline always gets its own timer, so a long wait can never hide a shorter one.
   */
  private void scheduleDelayedPumpLocked(long delayNanos) {
    long delay = Math.max(delayNanos, 100_000L);
    long at = System.nanoTime() + delay;
    if (at >= delayedPumpAtNanos) {
      return;
    }
    delayedPumpAtNanos = at;
    scheduleQuietlyNanos(
        () -> {
          lock.lock();
          try {
            if (delayedPumpAtNanos == at) {
              delayedPumpAtNanos = Long.MAX_VALUE;
            }
            kickLocked();
          } finally {
            lock.unlock();
          }
        },
        delay);
  }

  private void scheduleQuietly(Runnable task, long delayMillis) {
    scheduleQuietlyNanos(task, TimeUnit.MILLISECONDS.toNanos(delayMillis));
  }

  private void scheduleQuietlyNanos(Runnable task, long delayNanos) {
    try {
      scheduler.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      LOG.log(Level.DEBUG, "scheduler is shut down; task dropped", e);
    }
  }

  // ---- inbound events (gRPC callback threads) ----

  private void onInitAck(Call c, StreamInitAck ack) {
    boolean resumed;
    long ackedThrough;
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      resumed = !c.resumeId.isEmpty() && c.resumeId.equals(ack.getSessionId());
      sessionId = ack.getSessionId();
      long next = ack.getNextSequence();
      if (!resumed) {
        // A new session numbers from next_sequence: renumber what is buffered.
        seqOffset = next - head;
      } else {
        dropAcceptedLocked(next - 1 - seqOffset);
        if (next - seqOffset > tail) {
          seqOffset = next - tail; // the server is ahead of anything we sent: number on from it
        }
      }
      ackedThrough = head - 1;
      cursor = head;
      c.established = true;
      // attempts is not reset here: only a call that gets work acknowledged (or has none) counts
      // as working, so a server that fails every call after its InitAck is not retried forever.
      int advertised = ack.getCapabilities().getMaxMessageBytes();
      messageLimit = advertised > 0 ? advertised : DEFAULT_MAX_MESSAGE_BYTES;
      int maxBatch = ack.getCapabilities().getMaxBatchSize();
      serverMaxBatch = maxBatch > 0 ? maxBatch : Integer.MAX_VALUE;
      pausedUntilNanos = 0;
      // The server signals state changes only; one sent while we were away is lost, so a new call
      // starts unpaced until the server says otherwise (its hard limit still protects it).
      pacingRate = 0;
      state = StreamState.STREAM_STATE_UNSPECIFIED;
      kickLocked();
    } finally {
      lock.unlock();
    }
    safely(() -> listener.onConnected(ack.getSessionId(), resumed));
    if (resumed && ackedThrough >= 0) {
      long indexed = indexedThrough;
      safely(() -> listener.onAcknowledged(ackedThrough, indexed));
    }
  }

  private void onAck(Call c, ObservationAck ack) {
    long through;
    long indexed;
    long consolidated = -1; // the new watermark when it advanced
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      through = ack.getAcceptedThrough() - seqOffset;
      if (through >= head && head < tail) {
        c.progressed = true;
      }
      dropAcceptedLocked(through);
      long idx = ack.getIndexedThrough() - seqOffset;
      if (ack.getIndexedThrough() > 0 && idx > indexedThrough) {
        indexedThrough = Math.min(idx, head - 1);
      }
      indexed = indexedThrough;
      long con = ack.getConsolidatedThrough() - seqOffset;
      if (ack.getConsolidatedThrough() > 0 && con > consolidatedThrough) {
        consolidatedThrough = Math.min(con, head - 1);
        consolidated = consolidatedThrough;
      }
      kickLocked(); // a close may be waiting for an empty buffer
    } finally {
      lock.unlock();
    }
    long t = through;
    safely(() -> listener.onAcknowledged(t, indexed));
    if (consolidated >= 0) {
      long co = consolidated;
      safely(() -> listener.onConsolidated(co));
    }
  }

  /** Lock held: removes every buffered observation up to {@code through} (a ticket). */
  private void dropAcceptedLocked(long through) {
    long upTo = Math.min(through, tail - 1);
    if (upTo < head) {
      return;
    }
    for (long t = head; t <= upTo; t++) {
      int s = slot(t);
      if (ring[s].rejected) {
        rejected++;
      } else {
        acked++;
      }
      ring[s] = null;
    }
    head = upTo + 1;
    changed.signalAll();
  }

  private void onStatus(Call c, StreamStatus status) {
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      state = status.getState();
      double rate =
          status.getState() == StreamState.STREAM_STATE_ACTIVE ? 0 : status.getSuggestedRate();
      if (rate > 0 && pacingRate == 0) {
        tokens = 0;
        tokensAtNanos = System.nanoTime();
      }
      // A rate near zero (an idle server's drain estimate) would stall the stream: floor it.
      pacingRate = rate > 0 ? Math.max(rate, MIN_PACING_RATE) : 0;
      kickLocked();
    } finally {
      lock.unlock();
    }
    safely(() -> listener.onStatus(status));
  }

  private void onResend(Call c, Resend resend) {
    long from;
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      from = Math.max(head, resend.getFromSequence() - seqOffset);
      cursor = Math.min(cursor, from);
      if (resend.getReason() == ResendReason.RESEND_REASON_OVERLOADED) {
        long retry = Math.max(1, resend.getRetryAfterMs());
        pausedUntilNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(retry);
      }
      kickLocked();
    } finally {
      lock.unlock();
    }
    safely(() -> listener.onResend(from, resend.getReason(), resend.getRetryAfterMs()));
  }

  private void onRejection(Call c, dev.engram.proto.v1.Rejection r) {
    Status.Code code = Status.fromCodeValue(r.getCode()).getCode();
    Rejected report = null;
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      c.progressed = true;
      if (!r.getRequestId().isEmpty()) {
        // A recall's rejection: matched by request_id below, outside the lock.
      } else if (r.getSequenceNumber() == 0) {
        LOG.log(Level.WARNING, "ignoring a Rejection with neither number nor request_id: {0}", r);
      } else {
        long ticket = r.getSequenceNumber() - seqOffset;
        if (ticket >= head && ticket < tail) {
          Entry e = ring[slot(ticket)];
          if (!e.rejected) {
            e.rejected = true;
            report = new Rejected(ticket, e.episode, code, r.getMessage());
          }
        } else {
          rejected++; // accepted earlier, then quarantined by the index
          report = new Rejected(ticket < 0 ? -1 : ticket, null, code, r.getMessage());
        }
      }
    } finally {
      lock.unlock();
    }
    if (!r.getRequestId().isEmpty()
        && !recalls.rejected(
            r.getRequestId(), Status.fromCodeValue(r.getCode()).withDescription(r.getMessage()))) {
      LOG.log(
          Level.DEBUG, "rejection of recall ''{0}'' that is no longer pending", r.getRequestId());
    }
    if (report != null) {
      Rejected rep = report;
      safely(() -> listener.onRejected(rep));
    }
  }

  private void onRecall(Call c, RecallResponse response) {
    lock.lock();
    try {
      if (c != current) {
        return;
      }
      c.progressed = true;
    } finally {
      lock.unlock();
    }
    if (!recalls.answered(response)) {
      LOG.log(
          Level.DEBUG,
          "answer to recall ''{0}'' that is no longer pending",
          response.getRequestId());
    }
  }

  private void onEnded(Call c, Status status) {
    Runnable after;
    lock.lock();
    try {
      if (c.done || c.generation != generation) {
        c.done = true;
        return;
      }
      after = disconnectedLocked(c, status);
    } finally {
      lock.unlock();
    }
    if (after != null) {
      safely(after);
    }
  }

  private int slot(long ticket) {
    return (int) (ticket % capacity);
  }

  private static void safely(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "stream listener threw", e);
    }
  }

  /** A buffered observation. Fields guarded by the stream's lock. */
  private static final class Entry {
    final Episode episode;
    boolean rejected;

    Entry(Episode episode) {
      this.episode = episode;
    }
  }

  /**
   * One gRPC call of this stream. Its fields are guarded by the stream's lock, except {@link
   * #requests}, which is set once in {@code beforeStart} before the call is published.
   */
  private final class Call implements ClientResponseObserver<StreamRequest, StreamResponse> {
    final int generation;
    final String resumeId;
    ClientCallStreamObserver<StreamRequest> requests;
    boolean initSent;
    boolean established;
    boolean closeSent;
    boolean done;
    boolean workSent; // an observation or recall was sent on this call
    boolean progressed; // the server acknowledged, rejected or answered something on this call
    Status inBandError;

    Call(int generation, String resumeId) {
      this.generation = generation;
      this.resumeId = resumeId;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<StreamRequest> requestStream) {
      this.requests = requestStream;
      requestStream.setOnReadyHandler(EngramStream.this::kick);
    }

    @Override
    public void onNext(StreamResponse r) {
      switch (r.getKindCase()) {
        case INIT_ACK -> onInitAck(this, r.getInitAck());
        case ACK -> onAck(this, r.getAck());
        case STATUS -> onStatus(this, r.getStatus());
        case RECALL -> onRecall(this, r.getRecall());
        case RESEND -> onResend(this, r.getResend());
        case REJECTION -> onRejection(this, r.getRejection());
        case ERROR -> {
          lock.lock();
          try {
            inBandError =
                Status.fromCodeValue(r.getError().getCode())
                    .withDescription(r.getError().getMessage());
          } finally {
            lock.unlock();
          }
        }
        case KIND_NOT_SET -> LOG.log(Level.DEBUG, "ignoring a StreamResponse without a kind");
      }
    }

    @Override
    public void onError(Throwable t) {
      onEnded(this, Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      onEnded(this, null);
    }
  }
}
