"""The observe-and-recall stream, with the Java SDK's guarantees (DESIGN.md §3 and §5.3).

One stream on one memory space, kept alive across lost connections: every observation is
buffered until the server acknowledges it, queued observations are batched (by count and by
bytes, to fit the server's ``max_message_bytes``), the stream paces itself to ``suggested_rate``
under backpressure, goes back to ``Resend.from_sequence`` (after ``retry_after_ms`` when
overloaded) and resumes its session after a reconnect, so every observation is stored exactly
once.

Design. ``_Core`` holds the protocol state and is I/O-free; one ``threading.Lock`` guards all of
it, so the synchronous API may call it from any thread. Observations get a *ticket*, their 0-based
position in the stream; sequence number = ticket + ``seq_offset``, fixed per server session (a new
session renumbers the buffer by changing the offset). Episodes without an id get
``<stream-uuid>-<n>``, so a resend is idempotent even in a new session. Each is serialized once,
when observed. ``_Driver`` runs on one asyncio event loop (the caller's for ``AsyncStream``, a
private background thread's for ``Stream``): per gRPC call a reader task feeds responses to the
core and a writer task (the only writer to the call) takes one message at a time from the core and
awaits ``call.write``, which waits for HTTP/2 flow control, so the SDK never floods the
transport. Waits (``retry_after_ms``, pacing tokens, reconnect backoff) are timeouts of the
writer's or the driver's waits, never sleeps in the core. Responses of a replaced call are
recognised by their generation and ignored. Impossible outcomes: an observation dropped from the
buffer before an ack covers it or the server rejects it; more than ``buffer_size`` observations
buffered; an observation sent on a call before its session is established; reconnecting forever
on a failure that repeats without progress (``max_same_failures``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import itertools
import logging
import random
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Mapping

import grpc

from engram import _wire
from engram.errors import (
    BufferFull,
    EngramError,
    EpisodeTooLarge,
    StreamClosed,
    StreamFailed,
    error_for,
    status_code,
)
from engram.v1 import engram_pb2 as pb

log = logging.getLogger("engram.stream")

DEFAULT_MAX_MESSAGE_BYTES = 4 << 20
MIN_PACING_RATE = 100.0
MAX_PACING_WAIT = 0.1
_PERMANENT = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ALREADY_EXISTS,
}


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """How a stream buffers, batches, reconnects and closes (the Java SDK's defaults).

    buffer_size: observations kept until acknowledged; ``observe`` blocks (``block_timeout``
      seconds, then ``BufferFull``) or, with ``fail_when_full``, raises at once beyond it.
    max_batch_size / max_batch_bytes: most observations / serialized bytes per batch message; the
      server's advertised ``max_batch_size`` and ``max_message_bytes`` cap them further.
    initial_backoff / max_backoff: reconnect delays in seconds, exponential with equal jitter.
    max_reconnect_attempts: consecutive failed connection attempts before the stream fails.
    max_same_failures: the same non-UNAVAILABLE failure this many times in a row with no
      observation acknowledged in between fails the stream (e.g. RESOURCE_EXHAUSTED).
    """

    buffer_size: int = 8192
    fail_when_full: bool = False
    block_timeout: float = 30.0
    max_batch_size: int = 256
    max_batch_bytes: int = 1 << 20
    initial_backoff: float = 0.05
    max_backoff: float = 5.0
    max_reconnect_attempts: int | None = None
    max_same_failures: int = 5
    close_timeout: float = 30.0
    jitter_seed: int | None = None

    def __post_init__(self):
        def check(ok, what):
            if not ok:
                raise ValueError(what)

        check(1 <= self.buffer_size <= 1 << 24, f"buffer_size must be 1..16777216, got {self.buffer_size}")
        check(self.block_timeout >= 0, f"block_timeout must be >= 0, got {self.block_timeout}")
        check(1 <= self.max_batch_size <= 65536, f"max_batch_size must be 1..65536, got {self.max_batch_size}")
        check(self.max_batch_bytes >= 1024, f"max_batch_bytes must be >= 1024, got {self.max_batch_bytes}")
        check(self.initial_backoff > 0, f"initial_backoff must be positive, got {self.initial_backoff}")
        check(
            self.max_backoff >= self.initial_backoff,
            f"max_backoff ({self.max_backoff}) must be >= initial_backoff ({self.initial_backoff})",
        )
        check(
            self.max_reconnect_attempts is None or self.max_reconnect_attempts >= 0,
            f"max_reconnect_attempts must be >= 0, got {self.max_reconnect_attempts}",
        )
        check(self.max_same_failures >= 1, f"max_same_failures must be >= 1, got {self.max_same_failures}")
        check(self.close_timeout >= 0, f"close_timeout must be >= 0, got {self.close_timeout}")


@dataclasses.dataclass(frozen=True)
class StreamStats:
    connected: bool
    session_id: str
    observed: int
    buffered: int
    acknowledged: int
    rejected: int
    resent: int
    reconnects: int
    indexed_through: int
    state: int
    pacing_rate: float
    overload_pauses: int
    # Highest ticket known to be consolidated (association edges durable), -1 if none; stays -1
    # against a server without consolidation.
    consolidated_through: int = -1


@dataclasses.dataclass(frozen=True)
class Rejected:
    """A permanent failure of one observation (its ticket; -1 if it predates the buffer)."""

    ticket: int
    episode_id: str | None
    code: grpc.StatusCode
    message: str


class StreamListener:
    """Callbacks on the stream's events; override what you need. They run on the stream's event
    loop thread and must not block; exceptions they raise are logged and ignored."""

    def on_connected(self, session_id: str, resumed: bool) -> None: ...

    def on_acknowledged(self, accepted_through: int, indexed_through: int) -> None: ...

    def on_consolidated(self, consolidated_through: int) -> None: ...

    def on_status(self, status: pb.StreamStatus) -> None: ...

    def on_resend(self, from_ticket: int, reason: int, retry_after_ms: int) -> None: ...

    def on_rejected(self, rejected: Rejected) -> None: ...

    def on_disconnected(self, error: EngramError, attempt: int, delay: float) -> None: ...

    def on_failed(self, error: StreamFailed) -> None: ...


class _Call:
    """One gRPC call of the stream; fields guarded by the core's lock."""

    __slots__ = ("generation", "resume_id", "init_sent", "established", "close_sent", "in_band_error",
                 "head_at_start")

    def __init__(self, generation: int, resume_id: str, head: int):
        self.generation = generation
        self.resume_id = resume_id
        self.init_sent = False
        self.established = False
        self.close_sent = False
        self.in_band_error: tuple[grpc.StatusCode, str] | None = None
        self.head_at_start = head


class _PendingRecall:
    __slots__ = ("request", "future", "after")

    def __init__(self, request: pb.RecallRequest, future: concurrent.futures.Future, after: int):
        self.request = request
        self.future = future
        self.after = after


class _Core:
    """The protocol state machine; no I/O. Every method takes ``self.lock`` itself, except those
    named ``*_locked``. Callbacks for the listener are returned, to be run outside the lock."""

    def __init__(self, space_id: str, options: StreamOptions, wake: Callable[[], None]):
        self.space_id = space_id
        self.options = options
        self.capacity = options.buffer_size
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._wake = wake
        self.id_prefix = str(uuid.uuid4())
        self._ids = itertools.count()
        self._recall_ids = itertools.count()
        self._jitter = random.Random(options.jitter_seed)
        # ---- guarded by lock ----
        self.ring: list[bytes | None] = [None] * self.capacity
        self.ring_ids: list[str | None] = [None] * self.capacity
        self.rejected_tickets: set[int] = set()
        self.head = 0
        self.tail = 0
        self.cursor = 0
        self.sent_high_water = 0
        self.seq_offset = 0
        self.session_id = ""
        self.call: _Call | None = None
        self.generation = 0
        self.attempts = 0
        self.same_failures = 0
        self.last_failure: tuple[grpc.StatusCode, int] | None = None
        self.writer_waiting = False
        self.paused_until = 0.0
        self.pacing_rate = 0.0
        self.tokens = 0.0
        self.tokens_at = 0.0
        self.state = pb.STREAM_STATE_UNSPECIFIED
        self.max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
        self.batch_bytes = options.max_batch_bytes
        self.batch_size = options.max_batch_size
        self.recalls_queued: deque[_PendingRecall] = deque()
        self.recalls_sent: deque[_PendingRecall] = deque()
        self.closing = False
        self.finished = False
        self.failure: StreamFailed | None = None
        self.acked = 0
        self.rejected = 0
        self.resent = 0
        self.reconnects = 0
        self.overload_pauses = 0
        self.indexed_through = -1
        self.consolidated_through = -1
        self.room_waiters: list[Callable[[], None]] = []
        self.finish_waiters: list[Callable[[], None]] = []

    # ---- producers ----

    def new_id(self) -> str:
        return f"{self.id_prefix}-{next(self._ids)}"

    def check_fits_locked(self, episode: bytes) -> None:
        limit = self.max_message_bytes
        size = _wire.message_len(self.space_id, _wire.batch_entry_len(episode))
        if size > limit:
            raise EpisodeTooLarge(
                f"episode of {len(episode)} serialized bytes does not fit in one stream message "
                f"(the server reads at most {limit} bytes)",
                len(episode),
                limit,
            )

    def try_enqueue_locked(self, episode_id: str, episode: bytes) -> int | None:
        """The ticket, or None when the buffer is full. Raises if the stream is unusable."""
        self.throw_if_unusable_locked()
        self.check_fits_locked(episode)
        if self.tail - self.head >= self.capacity:
            return None
        ticket = self.tail
        self.tail += 1
        slot = ticket % self.capacity
        self.ring[slot] = episode
        self.ring_ids[slot] = episode_id
        self.kick_locked()
        return ticket

    def full_locked(self) -> bool:
        return self.tail - self.head >= self.capacity

    def throw_if_unusable_locked(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self.closing or self.finished:
            raise StreamClosed("stream is closing or closed", grpc.StatusCode.CANCELLED)

    def full_error(self, waited: float | None) -> BufferFull:
        if waited is None:
            return BufferFull(f"stream buffer is full ({self.capacity} unacknowledged observations)", self.capacity)
        return BufferFull(
            f"stream buffer stayed full ({self.capacity} unacknowledged observations) for {waited} s",
            self.capacity,
        )

    def add_recall(self, request: pb.RecallRequest) -> concurrent.futures.Future:
        if not request.memory_space_id:
            request.memory_space_id = self.space_id
        if not request.request_id:
            request.request_id = f"{self.id_prefix}-r{next(self._recall_ids)}"
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self.lock:
            if self.failure is not None:
                future.set_exception(self.failure)
            elif self.closing or self.finished:
                future.set_exception(StreamClosed("stream is closing or closed", grpc.StatusCode.CANCELLED))
            else:
                self.recalls_queued.append(_PendingRecall(request, future, self.tail))
                self.kick_locked()
        return future

    def kick_locked(self) -> None:
        if self.writer_waiting:
            self.writer_waiting = False
            self._wake()

    # ---- the writer ----

    def begin_call(self) -> _Call | None:
        with self.lock:
            if self.finished or self.failure is not None:
                return None
            self.generation += 1
            self.call = _Call(self.generation, self.session_id, self.head)
            return self.call

    def next_message(self, c: _Call, now: float) -> tuple[bytes | None, float | None]:
        """The next message for ``c``, or (None, seconds to wait at most; None = until woken)."""
        with self.lock:
            if c is not self.call:
                return None, None
            if not c.init_sent:
                c.init_sent = True
                return (
                    pb.StreamRequest(
                        memory_space_id=self.space_id,
                        session_id=c.resume_id,
                        init=pb.StreamInit(
                            client_buffer_size=self.capacity,
                            enable_backpressure=True,
                            max_batch_size=self.options.max_batch_size,
                        ),
                    ).SerializeToString(),
                    None,
                )
            if not c.established or c.close_sent:
                return self._idle_locked(None)
            if self.cursor < self.head:
                self.cursor = self.head
            if self.recalls_queued:
                recall = self.recalls_queued[0]
                if recall.after <= self.cursor or recall.after <= self.head:
                    self.recalls_queued.popleft()
                    self.recalls_sent.append(recall)
                    return (
                        pb.StreamRequest(memory_space_id=self.space_id, recall=recall.request).SerializeToString(),
                        None,
                    )
            if self.closing and self.head == self.tail:
                c.close_sent = True
                return (
                    pb.StreamRequest(
                        memory_space_id=self.space_id,
                        close=pb.StreamClose(drain_queue=True, last_sequence=max(0, self.tail - 1 + self.seq_offset)),
                    ).SerializeToString(),
                    None,
                )
            if self.cursor >= self.tail:
                return self._idle_locked(None)
            if now < self.paused_until:
                return self._idle_locked(self.paused_until - now)
            n = min(self.tail - self.cursor, self.batch_size)
            if self.pacing_rate > 0:
                self.tokens = min(
                    max(1.0, self.pacing_rate / 20), self.tokens + (now - self.tokens_at) * self.pacing_rate
                )
                self.tokens_at = now
                if self.tokens < 1:
                    return self._idle_locked(min(MAX_PACING_WAIT, (1 - self.tokens) / self.pacing_rate))
                n = min(n, int(self.tokens))
                self.tokens -= n
            return self._data_locked(n), None

    def _idle_locked(self, wait: float | None) -> tuple[None, float | None]:
        self.writer_waiting = True
        return None, wait

    def _data_locked(self, n: int) -> bytes:
        first = self.cursor
        ring = self.ring
        cap = self.capacity
        seq = first + self.seq_offset
        episode = ring[first % cap]
        assert episode is not None
        entry = _wire.batch_entry_len(episode)
        if _wire.message_len(self.space_id, entry) > self.max_message_bytes:
            raise EpisodeTooLarge(
                f"buffered episode {self.ring_ids[first % cap]!r} of {len(episode)} bytes does not fit "
                f"in one stream message (the server reads at most {self.max_message_bytes} bytes)",
                len(episode),
                self.max_message_bytes,
            )
        limit = min(self.batch_bytes, self.max_message_bytes)
        body = entry
        taken = 1
        episodes = [episode]
        while taken < n:
            e = ring[(first + taken) % cap]
            size = _wire.batch_entry_len(e)
            if _wire.message_len(self.space_id, body + size) > limit:
                break
            body += size
            episodes.append(e)
            taken += 1
        if taken == 1:
            message = _wire.observation(self.space_id, seq, episode)
        else:
            message = _wire.batch(self.space_id, seq, episodes, body)
        if self.pacing_rate > 0:
            self.tokens += n - taken  # give back what the byte limit left out
        self.cursor = first + taken
        if first < self.sent_high_water:
            self.resent += min(self.sent_high_water, self.cursor) - first
        self.sent_high_water = max(self.sent_high_water, self.cursor)
        return message

    # ---- inbound (driver's loop thread); each returns a callback for the listener or None ----

    def on_init_ack(self, c: _Call, ack: pb.StreamInitAck, listener: StreamListener):
        with self.lock:
            if c is not self.call:
                return None
            resumed = bool(c.resume_id) and c.resume_id == ack.session_id
            self.session_id = ack.session_id
            nxt = ack.next_sequence
            if not resumed:
                self.seq_offset = nxt - self.head
            else:
                self._drop_accepted_locked(nxt - 1 - self.seq_offset)
                if nxt - self.seq_offset > self.tail:
                    self.seq_offset = nxt - self.tail
            caps = ack.capabilities
            self.max_message_bytes = caps.max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES
            self.batch_size = min(self.options.max_batch_size, caps.max_batch_size or self.options.max_batch_size)
            acked_through = self.head - 1
            self.cursor = self.head
            c.established = True
            self.attempts = 0
            self.paused_until = 0.0
            # The server signals state changes only; one sent while we were away is lost, so a new
            # call starts unpaced until the server says otherwise (its hard limit protects it).
            self.pacing_rate = 0.0
            self.state = pb.STREAM_STATE_UNSPECIFIED
            self.kick_locked()
            indexed = self.indexed_through

        def notify():
            listener.on_connected(ack.session_id, resumed)
            if resumed and acked_through >= 0:
                listener.on_acknowledged(acked_through, indexed)

        return notify

    def on_ack(self, c: _Call, ack: pb.ObservationAck, listener: StreamListener):
        with self.lock:
            if c is not self.call:
                return None
            through = ack.accepted_through - self.seq_offset
            self._drop_accepted_locked(through)
            idx = ack.indexed_through - self.seq_offset
            if ack.indexed_through > 0 and idx > self.indexed_through:
                self.indexed_through = min(idx, self.head - 1)
            indexed = self.indexed_through
            con = ack.consolidated_through - self.seq_offset
            advanced = ack.consolidated_through > 0 and con > self.consolidated_through
            if advanced:
                self.consolidated_through = min(con, self.head - 1)
            consolidated = self.consolidated_through
            self.kick_locked()  # a close may be waiting for an empty buffer

        def notify():
            listener.on_acknowledged(through, indexed)
            if advanced:
                listener.on_consolidated(consolidated)

        return notify

    def _drop_accepted_locked(self, through: int) -> None:
        up_to = min(through, self.tail - 1)
        if up_to < self.head:
            return
        cap = self.capacity
        for t in range(self.head, up_to + 1):
            slot = t % cap
            self.ring[slot] = None
            self.ring_ids[slot] = None
        rejected = 0
        if self.rejected_tickets:
            done = [t for t in self.rejected_tickets if t <= up_to]
            rejected = len(done)
            self.rejected_tickets.difference_update(done)
        self.rejected += rejected
        self.acked += up_to + 1 - self.head - rejected
        self.head = up_to + 1
        self.same_failures = 0
        self.changed.notify_all()
        waiters, self.room_waiters = self.room_waiters, []
        for w in waiters:
            w()

    def on_status(self, c: _Call, status: pb.StreamStatus, listener: StreamListener, now: float):
        with self.lock:
            if c is not self.call:
                return None
            self.state = status.state
            rate = 0.0 if status.state == pb.STREAM_STATE_ACTIVE else status.suggested_rate
            if rate > 0 and self.pacing_rate == 0:
                self.tokens = 0.0
                self.tokens_at = now
            # A rate near zero (an idle server's drain estimate) would stall the stream: floor it.
            self.pacing_rate = max(rate, MIN_PACING_RATE) if rate > 0 else 0.0
            self.kick_locked()
        return lambda: listener.on_status(status)

    def on_resend(self, c: _Call, resend: pb.Resend, listener: StreamListener, now: float):
        with self.lock:
            if c is not self.call:
                return None
            frm = max(self.head, resend.from_sequence - self.seq_offset)
            self.cursor = min(self.cursor, frm)
            if resend.reason == pb.RESEND_REASON_OVERLOADED:
                self.overload_pauses += 1
                self.paused_until = now + max(1, resend.retry_after_ms) / 1000.0
            self.kick_locked()
        return lambda: listener.on_resend(frm, resend.reason, resend.retry_after_ms)

    def on_rejection(self, c: _Call, r: pb.Rejection, listener: StreamListener):
        code = status_code(r.code)
        recall = None
        report = None
        with self.lock:
            if c is not self.call:
                return None
            if r.request_id or r.sequence_number == 0:
                recall = self._take_recall_locked(r.request_id) if r.request_id else None
                if recall is None and self.recalls_sent:
                    recall = self.recalls_sent.popleft()  # recalls are answered in order
            else:
                ticket = r.sequence_number - self.seq_offset
                if self.head <= ticket < self.tail:
                    if ticket not in self.rejected_tickets:
                        self.rejected_tickets.add(ticket)
                        report = Rejected(ticket, self.ring_ids[ticket % self.capacity], code, r.message)
                else:
                    self.rejected += 1  # accepted earlier, then quarantined by the index
                    report = Rejected(ticket if ticket >= 0 else -1, None, code, r.message)
        if recall is not None:
            _settle(recall.future, exception=error_for(code, r.message))
        if report is not None:
            rep = report
            return lambda: listener.on_rejected(rep)
        return None

    def _take_recall_locked(self, request_id: str) -> _PendingRecall | None:
        for p in self.recalls_sent:
            if p.request.request_id == request_id:
                self.recalls_sent.remove(p)
                return p
        return None

    def on_recall(self, c: _Call, response: pb.RecallResponse) -> None:
        with self.lock:
            if c is not self.call:
                return
            match = self._take_recall_locked(response.request_id)
        if match is not None:
            _settle(match.future, result=response)

    def on_error(self, c: _Call, error: pb.StreamError) -> None:
        with self.lock:
            c.in_band_error = (status_code(error.code), error.message)

    def ended(self, c: _Call, code: grpc.StatusCode | None, details: str, listener: StreamListener):
        """The call ended: returns ("finished"|"failed"|"reconnect", delay, callback)."""
        with self.lock:
            if c is not self.call:
                return "stale", 0.0, None
            self.call = None
            self.writer_waiting = False
            # Recalls sent on a lost call go back to the front of the queue, in order.
            while self.recalls_sent:
                self.recalls_queued.appendleft(self.recalls_sent.pop())
            if self.finished:
                return "finished", 0.0, None
            if code is None:
                if c.close_sent:
                    code = grpc.StatusCode.OK
                else:
                    code, details = grpc.StatusCode.UNAVAILABLE, "server ended the stream"
            if self.closing and c.close_sent and code == grpc.StatusCode.OK and c.in_band_error is None:
                self._finish_locked()
                return "finished", 0.0, None
            if c.in_band_error is not None:
                code, details = c.in_band_error
            if code == grpc.StatusCode.NOT_FOUND and c.resume_id and not c.established:
                # The server forgot the session (expiry, restart): start a new one and renumber.
                self.session_id = ""
            elif code in _PERMANENT:
                return self._fail_locked(code, f"stream on space '{self.space_id}' failed: {code.name}: {details}", listener)
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                # Most likely a message over the server's limit: halve what we batch.
                self.batch_bytes = max(1024, min(self.batch_bytes, self.max_message_bytes) // 2)
            if code != grpc.StatusCode.UNAVAILABLE:
                same = self.last_failure == (code, self.head) and self.same_failures > 0
                self.same_failures = self.same_failures + 1 if same else 1
                self.last_failure = (code, self.head)
                if self.same_failures >= self.options.max_same_failures:
                    return self._fail_locked(
                        code,
                        f"stream on space '{self.space_id}' gave up after {self.same_failures} identical "
                        f"failures with no observation acknowledged: {code.name}: {details}",
                        listener,
                    )
            self.attempts += 1
            limit = self.options.max_reconnect_attempts
            if limit is not None and self.attempts > limit:
                return self._fail_locked(
                    code,
                    f"stream on space '{self.space_id}' gave up after {self.attempts - 1} reconnect attempts: "
                    f"{code.name}: {details}",
                    listener,
                )
            self.reconnects += 1
            delay = self._backoff_locked()
            attempt = self.attempts
        error = error_for(code, details)
        return "reconnect", delay, lambda: listener.on_disconnected(error, attempt, delay)

    def _backoff_locked(self) -> float:
        delay = min(self.options.max_backoff, self.options.initial_backoff * (2 ** min(self.attempts - 1, 30)))
        # Equal jitter: half fixed, half random, so clients that lost one server do not return in step.
        return delay / 2 + self._jitter.uniform(0, delay / 2)

    def fail_internal(self, error: BaseException, listener: StreamListener):
        with self.lock:
            if self.finished:
                return None
            code = getattr(error, "code", None) or grpc.StatusCode.INTERNAL
            _, _, cb = self._fail_locked(code, f"stream on space '{self.space_id}' failed: {error}", listener)
            self.failure.__cause__ = error
            return cb

    def _fail_locked(self, code, message, listener):
        self.failure = StreamFailed(message, code)
        failure = self.failure
        self._finish_locked()
        recalls = list(self.recalls_sent) + list(self.recalls_queued)
        self.recalls_sent.clear()
        self.recalls_queued.clear()

        def notify():
            for p in recalls:
                _settle(p.future, exception=failure)
            listener.on_failed(failure)

        return "failed", 0.0, notify

    def _finish_locked(self) -> None:
        self.finished = True
        self.changed.notify_all()
        for w in self.room_waiters + self.finish_waiters:
            w()
        self.room_waiters = []
        self.finish_waiters = []

    def force_finish(self) -> list[_PendingRecall]:
        with self.lock:
            if not self.finished:
                self._finish_locked()
            self.call = None
            recalls = list(self.recalls_sent) + list(self.recalls_queued)
            self.recalls_sent.clear()
            self.recalls_queued.clear()
            return recalls

    def stats(self) -> StreamStats:
        with self.lock:
            c = self.call
            return StreamStats(
                connected=c is not None and c.established,
                session_id=self.session_id,
                observed=self.tail,
                buffered=self.tail - self.head,
                acknowledged=self.acked,
                rejected=self.rejected,
                resent=self.resent,
                reconnects=self.reconnects,
                indexed_through=self.indexed_through,
                state=self.state,
                pacing_rate=self.pacing_rate,
                overload_pauses=self.overload_pauses,
                consolidated_through=self.consolidated_through,
            )


def _settle(future: concurrent.futures.Future, result=None, exception=None) -> None:
    if future.done():
        return
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass


def _safely(cb) -> None:
    if cb is None:
        return
    try:
        cb()
    except Exception:  # noqa: BLE001 - a listener must not break the stream
        log.warning("stream listener raised", exc_info=True)


class _Driver:
    """Runs the connections of one stream on one event loop (see the module doc)."""

    def __init__(self, channel_factory: Callable[[], Any], space_id: str, options: StreamOptions,
                 listener: StreamListener | None, loop: asyncio.AbstractEventLoop, metadata=None):
        self.loop = loop
        self.listener = listener or StreamListener()
        self.metadata = metadata
        self._wake_event = asyncio.Event()
        self.core = _Core(space_id, options, self._wake)
        self._channel_factory = channel_factory
        self._stop = asyncio.Event()
        self._loop_thread: int | None = None
        self.task: asyncio.Task | None = None
        self.send_trace: Callable[[float, bytes], None] | None = None  # test hook

    def _wake(self) -> None:
        # Called with the core's lock held, from any thread.
        try:
            if threading.get_ident() == self._loop_thread:
                self._wake_event.set()
            else:
                self.loop.call_soon_threadsafe(self._wake_event.set)
        except RuntimeError:
            pass  # the loop is closed: nothing to wake

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self.task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        channel = self._channel_factory()
        method = channel.stream_stream(
            "/engram.v1.MemoryService/Stream",
            request_serializer=None,
            response_deserializer=pb.StreamResponse.FromString,
        )
        try:
            while True:
                c = self.core.begin_call()
                if c is None:
                    return
                outcome, delay = await self._one_call(method, c)
                if outcome != "reconnect":
                    return
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                    return
                except asyncio.TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # noqa: BLE001 - a bug must fail the stream, not hang it
            log.exception("stream driver failed")
            _safely(self.core.fail_internal(e, self.listener))
        finally:
            try:
                await channel.close()
            except Exception:  # noqa: BLE001
                pass
            for p in self.core.force_finish():
                _settle(p.future, exception=self.core.failure or StreamClosed("stream closed", grpc.StatusCode.CANCELLED))

    async def _one_call(self, method, c: _Call) -> tuple[str, float]:
        call = method(metadata=self.metadata)
        writer = asyncio.ensure_future(self._write(call, c))
        code, details = None, ""
        try:
            while True:
                r = await call.read()
                if r is grpc.aio.EOF:
                    break
                self._dispatch(c, r)
            code = await call.code()
            details = await call.details()
            if code == grpc.StatusCode.OK:
                code = None  # "ended by the server": ended() decides whether that was expected
        except grpc.aio.AioRpcError as e:
            code, details = e.code(), e.details() or ""
        finally:
            writer.cancel()
            try:
                await writer
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            call.cancel()
        outcome, delay, cb = self.core.ended(c, code, details, self.listener)
        _safely(cb)
        return outcome, delay

    async def _write(self, call, c: _Call) -> None:
        core = self.core
        event = self._wake_event
        try:
            while True:
                event.clear()
                message, wait = core.next_message(c, time.monotonic())
                if message is None:
                    if c is not core.call:
                        return
                    if wait is None:
                        await event.wait()
                    else:
                        try:
                            await asyncio.wait_for(event.wait(), max(wait, 0.0001))
                        except asyncio.TimeoutError:
                            pass
                    continue
                if self.send_trace is not None:
                    self.send_trace(time.monotonic(), message)
                await call.write(message)
        except asyncio.CancelledError:
            raise
        except EngramError as e:
            _safely(self.core.fail_internal(e, self.listener))
            call.cancel()
        except Exception:  # noqa: BLE001 - the call ended under us; the reader sees why
            log.debug("write failed on an ending call", exc_info=True)

    def _dispatch(self, c: _Call, r: pb.StreamResponse) -> None:
        kind = r.WhichOneof("kind")
        core = self.core
        if kind == "ack":
            _safely(core.on_ack(c, r.ack, self.listener))
        elif kind == "init_ack":
            _safely(core.on_init_ack(c, r.init_ack, self.listener))
        elif kind == "status":
            _safely(core.on_status(c, r.status, self.listener, time.monotonic()))
        elif kind == "resend":
            _safely(core.on_resend(c, r.resend, self.listener, time.monotonic()))
        elif kind == "recall":
            core.on_recall(c, r.recall)
        elif kind == "rejection":
            _safely(core.on_rejection(c, r.rejection, self.listener))
        elif kind == "error":
            core.on_error(c, r.error)

    def request_close(self) -> None:
        with self.core.lock:
            self.core.closing = True
            self.core.writer_waiting = True
            self.core.kick_locked()

    def stop(self) -> None:
        """Loop thread: ends the driver now (after a close timed out, or on cancel)."""
        self._stop.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()


# ---------------------------------------------------------------------------------------------
# Public API


def _encode(core: _Core, embedding, content, id, metadata, observed_at, confidence) -> tuple[str, bytes]:
    if isinstance(embedding, pb.Episode):
        ep = embedding
        if not ep.id:
            ep = pb.Episode()
            ep.CopyFrom(embedding)
            ep.id = core.new_id()
        return ep.id, ep.SerializeToString()
    episode_id = id or core.new_id()
    return episode_id, _wire.encode_episode(episode_id, embedding, content, metadata, observed_at, confidence)


def recall_filter(metadata=None, observed_after=None, observed_before=None,
                  session_id: str | None = None) -> pb.RecallFilter:
    """A recall filter: every ``metadata`` entry must match, ``observed_at`` must lie in
    [observed_after, observed_before) (datetimes, naive = UTC, or seconds since the epoch), and
    with ``session_id`` the episode must have been accepted by that stream session (a stream's
    ``stats().session_id``; episodes written by unary calls have none)."""
    f = pb.RecallFilter(metadata=dict(metadata or {}), session_id=session_id or "")
    if observed_after is not None:
        f.observed_after.CopyFrom(_wire.timestamp(observed_after))
    if observed_before is not None:
        f.observed_before.CopyFrom(_wire.timestamp(observed_before))
    return f


RECALL_MODES = {"similarity": pb.RECALL_MODE_SIMILARITY, "hybrid": pb.RECALL_MODE_HYBRID,
                "associative": pb.RECALL_MODE_ASSOCIATIVE}


def recall_mode(mode) -> int:
    """A ``RecallMode`` from its name ("similarity", "hybrid", "associative"), the enum, or None."""
    if mode is None:
        return 0
    if isinstance(mode, str):
        try:
            return RECALL_MODES[mode.lower()]
        except KeyError:
            raise ValueError(f"mode must be one of {sorted(RECALL_MODES)}, got {mode!r}") from None
    return int(mode)


def _recall_request(embedding, k, text, min_score, mode, include_embeddings, filter=None) -> pb.RecallRequest:
    if isinstance(embedding, pb.RecallRequest):
        req = pb.RecallRequest()
        req.CopyFrom(embedding)
        return req
    req = pb.RecallRequest(k=k, text=text or "", min_score=min_score or 0.0, mode=recall_mode(mode),
                           include_embeddings=include_embeddings)
    if embedding is not None:
        req.embedding.extend(embedding.tolist() if hasattr(embedding, "tolist") else list(embedding))
    if filter is not None:
        req.filter.CopyFrom(filter if isinstance(filter, pb.RecallFilter) else recall_filter(**filter))
    return req


class _Background:
    """One daemon thread running an event loop, shared by a client's synchronous streams."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="engram-stream-loop", daemon=True)
        self.thread.start()

    def _main(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, fn, *args):
        """Runs ``fn(*args)`` on the loop and returns its result."""
        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def close(self):
        if self.loop.is_closed():
            return

        async def shutdown():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        except Exception:  # noqa: BLE001
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Stream:
    """A synchronous stream: methods block the caller; the connection lives on a background thread.

    ``observe`` returns the observation's ticket (its 0-based position in this stream).
    """

    def __init__(self, background: _Background, channel_factory, space_id: str,
                 options: StreamOptions | None = None, listener: StreamListener | None = None, metadata=None):
        self._bg = background
        self.options = options or StreamOptions()
        self.space_id = space_id

        def make():
            d = _Driver(channel_factory, space_id, self.options, listener, background.loop, metadata)
            d.start()
            return d

        self._driver = background.call(make)
        self._core = self._driver.core

    def observe(self, embedding=None, content: str = "", *, id: str = "", metadata: Mapping[str, str] | None = None,
                observed_at=None, confidence: float | None = None) -> int:
        """Queues an observation (an embedding as numpy array or list, or a ``pb.Episode``).

        Blocks while the buffer is full (up to ``block_timeout``), or raises ``BufferFull`` at once
        with ``fail_when_full``. Raises ``EpisodeTooLarge`` if it can never fit in one message.
        """
        core = self._core
        episode_id, data = _encode(core, embedding, content, id, metadata, observed_at, confidence)
        with core.lock:
            ticket = core.try_enqueue_locked(episode_id, data)
            if ticket is not None:
                return ticket
            if self.options.fail_when_full:
                raise core.full_error(None)
            deadline = time.monotonic() + self.options.block_timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    core.throw_if_unusable_locked()
                    raise core.full_error(self.options.block_timeout)
                core.changed.wait(remaining)
                ticket = core.try_enqueue_locked(episode_id, data)
                if ticket is not None:
                    return ticket

    def try_observe(self, embedding=None, content: str = "", **kw) -> bool:
        """Queues an observation if the buffer has room, never waiting; False if it is full."""
        core = self._core
        episode_id, data = _encode(core, embedding, content, kw.get("id", ""), kw.get("metadata"),
                                   kw.get("observed_at"), kw.get("confidence"))
        with core.lock:
            return core.try_enqueue_locked(episode_id, data) is not None

    def recall_future(self, embedding=None, k: int = 10, *, text: str = "", min_score: float = 0.0,
                      mode=0, include_embeddings: bool = False, filter=None) -> concurrent.futures.Future:
        """Recalls on the stream, after every observation queued before it (reads its own writes).
        ``mode`` is "similarity", "hybrid" or "associative" (or the ``pb.RECALL_MODE_*`` enum);
        hybrid and associative take ``text``, ``embedding`` or both (in a space with an embedder,
        similarity takes text too); ``filter`` is a ``recall_filter(...)`` or a dict of its
        arguments, kept inside the search so ``k`` hits come back when ``k`` episodes match."""
        return self._core.add_recall(
            _recall_request(embedding, k, text, min_score, mode, include_embeddings, filter))

    def recall(self, embedding=None, k: int = 10, *, timeout: float | None = 30.0, **kw) -> pb.RecallResponse:
        """Like ``recall_future`` but waits for the answer (``timeout`` seconds)."""
        return self.recall_future(embedding, k, **kw).result(timeout)

    def stats(self) -> StreamStats:
        return self._core.stats()

    def close(self, timeout: float | None = None) -> bool:
        """Waits until every observation is acknowledged, sends close and waits for the end of the
        call, at most ``timeout`` seconds (default ``close_timeout``). True if it was clean."""
        timeout = self.options.close_timeout if timeout is None else timeout
        core = self._core
        self._bg.loop.call_soon_threadsafe(self._driver.request_close)
        deadline = time.monotonic() + timeout
        with core.lock:
            while not core.finished and core.failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                core.changed.wait(remaining)
            clean = core.finished and core.failure is None and core.head == core.tail
        self._bg.loop.call_soon_threadsafe(self._driver.stop)
        if not clean:
            log.warning("stream on space '%s' closed before draining: %s", self.space_id, self.stats())
        return clean

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncStream:
    """An asyncio stream; create it with ``AsyncEngramClient.stream`` inside a running loop."""

    def __init__(self, channel_factory, space_id: str, options: StreamOptions | None = None,
                 listener: StreamListener | None = None, metadata=None):
        self.options = options or StreamOptions()
        self.space_id = space_id
        self._driver = _Driver(channel_factory, space_id, self.options, listener, asyncio.get_running_loop(), metadata)
        self._core = self._driver.core
        self._driver.start()

    async def observe(self, embedding=None, content: str = "", *, id: str = "", metadata=None, observed_at=None,
                      confidence: float | None = None) -> int:
        """Queues an observation; waits (without blocking the loop) while the buffer is full."""
        core = self._core
        episode_id, data = _encode(core, embedding, content, id, metadata, observed_at, confidence)
        deadline = None
        while True:
            with core.lock:
                ticket = core.try_enqueue_locked(episode_id, data)
                if ticket is not None:
                    return ticket
                if self.options.fail_when_full:
                    raise core.full_error(None)
                loop = asyncio.get_running_loop()
                room = loop.create_future()
                core.room_waiters.append(lambda: loop.call_soon_threadsafe(_resolve, room))
            if deadline is None:
                deadline = time.monotonic() + self.options.block_timeout
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                await asyncio.wait_for(room, remaining)
            except asyncio.TimeoutError:
                with core.lock:
                    core.throw_if_unusable_locked()
                    if core.full_locked():
                        raise core.full_error(self.options.block_timeout) from None

    def try_observe(self, embedding=None, content: str = "", **kw) -> bool:
        core = self._core
        episode_id, data = _encode(core, embedding, content, kw.get("id", ""), kw.get("metadata"),
                                   kw.get("observed_at"), kw.get("confidence"))
        with core.lock:
            return core.try_enqueue_locked(episode_id, data) is not None

    async def recall(self, embedding=None, k: int = 10, *, text: str = "", min_score: float = 0.0, mode=0,
                     include_embeddings: bool = False, filter=None) -> pb.RecallResponse:
        future = self._core.add_recall(
            _recall_request(embedding, k, text, min_score, mode, include_embeddings, filter))
        return await asyncio.wrap_future(future)

    def stats(self) -> StreamStats:
        return self._core.stats()

    async def close(self, timeout: float | None = None) -> bool:
        timeout = self.options.close_timeout if timeout is None else timeout
        core = self._core
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        with core.lock:
            if core.finished or core.failure is not None:
                done.set_result(None)
            else:
                core.finish_waiters.append(lambda: loop.call_soon_threadsafe(_resolve, done))
        self._driver.request_close()
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            pass
        with core.lock:
            clean = core.finished and core.failure is None and core.head == core.tail
        self._driver.stop()
        if self._driver.task is not None:
            try:
                await self._driver.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if not clean:
            log.warning("stream on space '%s' closed before draining: %s", self.space_id, self.stats())
        return clean

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
