// engram.js: a browser client for Engram's WebSocket door (/v1/stream).
//
// One EngramStream is one observe-and-recall stream on one memory space, kept alive across lost
// sockets. It speaks the StreamRequest / StreamResponse messages of engram.proto as JSON text
// frames (protobuf's canonical JSON mapping), one message per frame, and keeps the session rules
// of DESIGN.md section 3:
//
// - every observation gets a ticket (its 0-based position in this stream) and stays in the client
//   buffer until a cumulative ack covers it or the server rejects it;
// - sequence numbers are ticket + offset, the offset fixed per server session (a new session
//   renumbers the buffer from its next_sequence);
// - queued observations go out as EpisodeBatch frames cut by the server's max_batch_size and
//   max_message_bytes; the socket's bufferedAmount bounds what waits in the browser;
// - Resend is go-back-N: sending restarts at from_sequence, after retry_after_ms when the reason is
//   OVERLOADED; a BACKPRESSURE status paces sending at its suggested_rate;
// - a recall is sent after every observation queued before it and answered by request_id;
// - after a dropped socket the stream reconnects with backoff and resumes its session
//   (init with the old session_id), resending from next_sequence; unanswered recalls are sent
//   again; episodes without an id get "<stream-id>-<n>", so a resend is idempotent even in a new
//   session;
// - close() drains: it waits until the buffer is acknowledged, sends close, and resolves when the
//   server ends the socket.
//
// Usage:
//   import { connect } from './engram.js';
//   const stream = await connect('ws://localhost:7432', 'agent-1');
//   stream.addEventListener('ack', (e) => console.log(e.detail.acceptedThrough));
//   stream.observe({ embedding: [0.1, 0.2, 0.3], content: 'met Ana', metadata: { who: 'ana' } });
//   const { memories } = await stream.recall({ embedding: [0.1, 0.2, 0.3], k: 5 });
//   await stream.close();

/** gRPC status codes by number, as carried by StreamError and Rejection. */
export const Code = Object.freeze({
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
  ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9,
  ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
});

const CODE_NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k]));

/** Codes that no reconnect can cure: the stream fails instead of retrying. */
const PERMANENT = new Set([
  Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION, Code.PERMISSION_DENIED,
  Code.UNAUTHENTICATED, Code.UNIMPLEMENTED, Code.OUT_OF_RANGE, Code.ALREADY_EXISTS,
]);

/** A failure with a gRPC-style code (a number from Code) and the server's message. */
export class EngramError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'EngramError';
    this.code = code;
    this.codeName = CODE_NAMES[code] ?? String(code);
  }
}

/** observe() on a full client buffer: wait with waitForRoom() and try again. */
export class BufferFullError extends EngramError {
  constructor(capacity) {
    super(Code.RESOURCE_EXHAUSTED, `client buffer is full (${capacity} unacknowledged observations)`);
    this.name = 'BufferFullError';
  }
}

export const DEFAULTS = Object.freeze({
  bufferSize: 100_000, // observations kept until acknowledged
  maxBatchSize: 500, // episodes per frame (the server's max_batch_size caps it too)
  maxBatchBytes: 1 << 20, // bytes per frame (the server's max_message_bytes caps it too)
  highWaterBytes: 1 << 20, // stop sending while the socket has this much unsent
  recallTimeoutMs: 30_000,
  maxPendingRecalls: 1000,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  maxReconnectAttempts: 20, // in a row, without a working connection in between
  maxRepeatedFailures: 5, // sockets in a row that ended with work unacknowledged
  minPacingRate: 100, // slowest pace taken from a suggested_rate, observations per second
});

const DEFAULT_MAX_MESSAGE_BYTES = 4 << 20;
const FRAME_OVERHEAD = 160; // bytes of a frame around its episodes
const OPEN = 1;

/**
 * Opens a stream on a space and resolves once the server has acknowledged its init.
 *
 * @param {string} url ws(s):// or http(s):// address of the server; "/v1/stream" is added when the
 *     path is empty. Relative to the page when it starts with "/".
 * @param {string} space memory space id
 * @param {object} [options] see DEFAULTS; plus sessionId (resume a session), WebSocket (an
 *     implementation to use instead of the global one) and token (sent in the init message's
 *     authorization field, since a browser WebSocket cannot set headers; never in the URL)
 * @returns {Promise<EngramStream>}
 */
export function connect(url, space, options = {}) {
  const stream = new EngramStream(url, space, options);
  return stream.ready.then(() => stream);
}

/**
 * Events (CustomEvent, details in brackets):
 *   connected {sessionId, resumed, nextSequence, capabilities}
 *   ack {acceptedThrough, indexedThrough, ackedTicket, indexedTicket}   (server numbers, tickets)
 *   status {state, pressure, queueDepth, queueCapacity, suggestedRate, message}
 *   resend {fromSequence, reason, retryAfterMs}
 *   rejected {ticket, sequenceNumber, episode, code, codeName, message}
 *   disconnected {code, reason, attempt, delayMs}
 *   failed {error}
 *   closed {}
 */
export class EngramStream extends EventTarget {
  constructor(url, space, options = {}) {
    super();
    this.url = streamUrl(url, space);
    this.space = space;
    this.options = { ...DEFAULTS, ...options };
    this.id = randomId();
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._capacity = this.options.bufferSize;
    this._ring = new Array(this._capacity);
    this._idCounter = 0;
    this._recallCounter = 0;
    this._recalls = new Map(); // requestId -> {request, after, sent, resolve, reject, timer}
    this._head = 0; // ticket of the oldest buffered observation
    this._tail = 0; // next ticket to hand out
    this._cursor = 0; // next ticket to send on the current socket
    this._sentHighWater = 0;
    this._seqOffset = 0;
    this.sessionId = options.sessionId ?? '';
    this._call = null;
    this._gen = 0;
    this._attempts = 0;
    this._stalls = 0;
    this._pumpQueued = false;
    this._timerAt = Infinity;
    this._timer = null;
    this._pausedUntil = 0;
    this._pacingRate = 0;
    this._tokens = 0;
    this._tokensAt = 0;
    this._maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    this._serverMaxBatch = Infinity;
    this._closing = false;
    this._finished = false;
    this._failure = null;
    this._roomWaiters = [];
    this._flushWaiters = [];
    this.capabilities = null;
    this.state = 'STREAM_STATE_UNSPECIFIED';
    this.stats = { acked: 0, rejected: 0, resent: 0, reconnects: 0, sent: 0, indexedTicket: -1 };
    this.acceptedThrough = 0; // last server watermarks, in server sequence numbers
    this.indexedThrough = 0;
    this.ready = new Promise((resolve, reject) => {
      this._readyResolve = resolve;
      this._readyReject = reject;
    });
    this.ready.catch(() => {}); // a caller that never awaits it must not see an unhandled rejection
    this._closed = new Promise((resolve, reject) => {
      this._closedResolve = resolve;
      this._closedReject = reject;
    });
    this._closed.catch(() => {});
    this._open();
  }

  /** Unacknowledged observations in the client buffer. */
  get buffered() {
    return this._tail - this._head;
  }

  /** Observations observe() can take before the buffer is full. */
  get room() {
    return this._capacity - (this._tail - this._head);
  }

  /** The last ticket acknowledged or rejected (everything up to it has left the buffer); -1 if none. */
  get ackedTicket() {
    return this._head - 1;
  }

  /** Whether a socket is open and its session established. */
  get connected() {
    return !!this._call?.established;
  }

  /** The server sequence number of a ticket in the current session. */
  sequenceOf(ticket) {
    return ticket + this._seqOffset;
  }

  // ---- observe ----

  /**
   * Queues an observation and returns its ticket. Episodes without an id get one (so a resend is
   * idempotent); observedAt may be a Date. Throws BufferFullError when the buffer is full,
   * EngramError(INVALID_ARGUMENT) for a vector with NaN/Infinity or an episode that cannot fit in
   * one message, EngramError(CANCELLED) once the stream is closing or has failed.
   */
  observe(episode) {
    this._throwIfUnusable();
    if (this._tail - this._head >= this._capacity) throw new BufferFullError(this._capacity);
    const e = { ...episode };
    if (!e.id) e.id = `${this.id}-${this._idCounter++}`;
    if (e.embedding) {
      const v = Array.from(e.embedding);
      for (const x of v) {
        if (typeof x !== 'number' || !Number.isFinite(x)) {
          throw new EngramError(Code.INVALID_ARGUMENT, `episode ${e.id}: embedding must be finite numbers`);
        }
      }
      e.embedding = v;
    }
    if (e.observedAt instanceof Date) e.observedAt = e.observedAt.toISOString();
    const json = JSON.stringify(e);
    const bytes = byteLength(json);
    if (bytes + FRAME_OVERHEAD > this._maxMessageBytes) {
      throw new EngramError(Code.INVALID_ARGUMENT,
        `episode ${e.id} is ${bytes} bytes, over the server's limit of ${this._maxMessageBytes}`);
    }
    const ticket = this._tail++;
    this._ring[ticket % this._capacity] = { id: e.id, json, bytes, rejected: false };
    this._kick();
    return ticket;
  }

  /** Resolves when observe() can take n more (n at most the buffer size). */
  waitForRoom(n = 1) {
    const need = Math.min(n, this._capacity);
    if (this._failure) return Promise.reject(this._failure);
    if (this.room >= need) return Promise.resolve();
    return new Promise((resolve, reject) => this._roomWaiters.push({ need, resolve, reject }));
  }

  /** Resolves when every observation queued so far is acknowledged or rejected. */
  flush() {
    if (this._failure) return Promise.reject(this._failure);
    const through = this._tail - 1;
    if (this._head > through) return Promise.resolve();
    return new Promise((resolve, reject) => this._flushWaiters.push({ through, resolve, reject }));
  }

  // ---- recall ----

  /**
   * Recalls on the stream: {embedding, k, minScore, mode, text, includeEmbeddings}. Sent after
   * every observation queued before it, so it sees them. Resolves with the RecallResponse
   * {requestId, memories: [{episode, score, confidence}], indexedThrough, tookMicros}; rejects with
   * an EngramError (the server's rejection, DEADLINE_EXCEEDED after recallTimeoutMs,
   * RESOURCE_EXHAUSTED when too many are pending, CANCELLED when the stream ends).
   */
  recall(cue) {
    try {
      this._throwIfUnusable();
    } catch (e) {
      return Promise.reject(e);
    }
    if (this._recalls.size >= this.options.maxPendingRecalls) {
      return Promise.reject(new EngramError(Code.RESOURCE_EXHAUSTED,
        `${this._recalls.size} recalls are pending`));
    }
    const request = { ...cue };
    if (request.embedding) request.embedding = Array.from(request.embedding);
    if (!request.requestId) request.requestId = `${this.id}-r${this._recallCounter++}`;
    if (this._recalls.has(request.requestId)) {
      return Promise.reject(new EngramError(Code.INVALID_ARGUMENT,
        `request id ${request.requestId} is already pending`));
    }
    return new Promise((resolve, reject) => {
      const r = { request, after: this._tail, sent: false, resolve, reject, timer: null };
      r.timer = setTimeout(() => {
        this._recalls.delete(request.requestId);
        reject(new EngramError(Code.DEADLINE_EXCEEDED,
          `recall ${request.requestId} not answered in ${this.options.recallTimeoutMs} ms`));
      }, this.options.recallTimeoutMs);
      this._recalls.set(request.requestId, r);
      this._kick();
    });
  }

  // ---- close ----

  /**
   * Drains and closes: waits until every buffered observation is acknowledged, sends close
   * {drainQueue, lastSequence} and resolves when the server ends the socket. With {drain: false}
   * it drops the socket at once (the session stays resumable on the server for a while).
   */
  close({ drain = true } = {}) {
    if (this._finished) return this._failure ? Promise.reject(this._failure) : this._closed;
    if (!drain) {
      this._finish(null);
      return this._closed;
    }
    this._closing = true;
    this._kick();
    return this._closed;
  }

  // ---- connection ----

  _open() {
    const gen = ++this._gen;
    let ws;
    const call = {
      gen, ws: null, resumeId: this.sessionId, initSent: false, established: false,
      closeSent: false, workSent: false, progressed: false, error: null, ended: false,
    };
    this._call = call;
    try {
      ws = new this._WebSocket(this.url);
    } catch (e) {
      this._fail(new EngramError(Code.INVALID_ARGUMENT, `cannot open ${this.url}: ${e.message}`));
      return;
    }
    call.ws = ws;
    ws.onopen = () => {
      if (call.gen === this._gen) this._kick();
    };
    ws.onmessage = (ev) => this._onFrame(call, ev.data);
    ws.onerror = () => {}; // onclose follows with the details
    ws.onclose = (ev) => this._onEnded(call, ev.code, ev.reason);
  }

  _onFrame(call, data) {
    if (call.gen !== this._gen || call.ended) return;
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      console.warn('engram.js: ignoring a frame that is not JSON', data);
      return;
    }
    if (m.initAck) this._onInitAck(call, m.initAck);
    else if (m.ack) this._onAck(call, m.ack);
    else if (m.status) this._onStatus(call, m.status);
    else if (m.recall) this._onRecall(call, m.recall);
    else if (m.resend) this._onResend(call, m.resend);
    else if (m.rejection) this._onRejection(call, m.rejection);
    else if (m.error) {
      // A StreamError ends the stream: the server closes the socket; if it does not, we do.
      call.error = { code: m.error.code ?? Code.UNKNOWN, message: m.error.message ?? '' };
      setTimeout(() => {
        if (!call.ended && call.ws.readyState <= OPEN) call.ws.close(1000, 'stream error');
      }, 1000);
    }
  }

  _onInitAck(call, ack) {
    const resumed = !!call.resumeId && call.resumeId === ack.sessionId;
    this.sessionId = ack.sessionId ?? '';
    const next = num(ack.nextSequence);
    if (!resumed) {
      this._seqOffset = next - this._head; // a new session numbers the buffer from next_sequence
    } else {
      this._dropAccepted(next - 1 - this._seqOffset);
      if (next - this._seqOffset > this._tail) this._seqOffset = next - this._tail;
    }
    this._cursor = this._head;
    call.established = true;
    const caps = ack.capabilities ?? {};
    this.capabilities = caps;
    this._maxMessageBytes = caps.maxMessageBytes > 0 ? caps.maxMessageBytes : DEFAULT_MAX_MESSAGE_BYTES;
    this._serverMaxBatch = caps.maxBatchSize > 0 ? caps.maxBatchSize : Infinity;
    // The server signals state changes only; start unpaced until it says otherwise.
    this._pausedUntil = 0;
    this._pacingRate = 0;
    this.state = 'STREAM_STATE_UNSPECIFIED';
    this._emit('connected', { sessionId: this.sessionId, resumed, nextSequence: next, capabilities: caps });
    this._readyResolve();
    this._kick();
  }

  _onAck(call, ack) {
    const accepted = num(ack.acceptedThrough);
    const indexed = num(ack.indexedThrough);
    this.acceptedThrough = Math.max(this.acceptedThrough, accepted);
    this.indexedThrough = Math.max(this.indexedThrough, indexed);
    const through = accepted - this._seqOffset;
    if (through >= this._head && this._head < this._tail) call.progressed = true;
    this._dropAccepted(through);
    const idx = indexed - this._seqOffset;
    if (indexed > 0 && idx > this.stats.indexedTicket) {
      this.stats.indexedTicket = Math.min(idx, this._head - 1);
    }
    this._emit('ack', {
      acceptedThrough: accepted, indexedThrough: indexed,
      ackedTicket: this._head - 1, indexedTicket: this.stats.indexedTicket,
    });
    this._kick(); // a close may be waiting for an empty buffer
  }

  _onStatus(call, s) {
    this.state = s.state ?? 'STREAM_STATE_UNSPECIFIED';
    const rate = this.state === 'STREAM_STATE_ACTIVE' ? 0 : (s.suggestedRate ?? 0);
    if (rate > 0 && this._pacingRate === 0) {
      this._tokens = 0;
      this._tokensAt = now();
    }
    this._pacingRate = rate > 0 ? Math.max(rate, this.options.minPacingRate) : 0;
    this._emit('status', {
      state: this.state, pressure: s.pressure ?? 0, queueDepth: s.queueDepth ?? 0,
      queueCapacity: s.queueCapacity ?? 0, suggestedRate: s.suggestedRate ?? 0, message: s.message ?? '',
    });
    this._kick();
  }

  _onResend(call, r) {
    const from = Math.max(this._head, num(r.fromSequence) - this._seqOffset);
    this._cursor = Math.min(this._cursor, from);
    const retryAfterMs = r.retryAfterMs ?? 0;
    if (r.reason === 'RESEND_REASON_OVERLOADED') {
      this._pausedUntil = now() + Math.max(1, retryAfterMs);
    }
    this._emit('resend', { fromSequence: num(r.fromSequence), reason: r.reason ?? '', retryAfterMs });
    this._kick();
  }

  _onRejection(call, r) {
    call.progressed = true;
    const code = r.code ?? Code.UNKNOWN;
    if (r.requestId) {
      const p = this._recalls.get(r.requestId);
      if (p) {
        this._settleRecall(r.requestId);
        p.reject(new EngramError(code, r.message ?? 'recall rejected'));
      }
      return;
    }
    const seq = num(r.sequenceNumber);
    if (seq === 0) return;
    const ticket = seq - this._seqOffset;
    let detail;
    if (ticket >= this._head && ticket < this._tail) {
      const entry = this._ring[ticket % this._capacity];
      if (entry.rejected) return;
      entry.rejected = true;
      detail = { ticket, sequenceNumber: seq, episode: JSON.parse(entry.json) };
    } else {
      this.stats.rejected++; // accepted earlier, then quarantined by the index
      detail = { ticket: ticket < 0 ? -1 : ticket, sequenceNumber: seq, episode: null };
    }
    this._emit('rejected', { ...detail, code, codeName: CODE_NAMES[code] ?? String(code), message: r.message ?? '' });
  }

  _onRecall(call, response) {
    call.progressed = true;
    const p = this._recalls.get(response.requestId);
    if (!p) return;
    this._settleRecall(response.requestId);
    response.memories = response.memories ?? [];
    p.resolve(response);
  }

  _settleRecall(requestId) {
    const p = this._recalls.get(requestId);
    clearTimeout(p.timer);
    this._recalls.delete(requestId);
  }

  _onEnded(call, wsCode, wsReason) {
    if (call.ended) return;
    call.ended = true;
    if (call.gen !== this._gen || this._finished) return;
    this._call = null;
    for (const r of this._recalls.values()) r.sent = false;
    if (this._closing && call.closeSent && !call.error) {
      this._finish(null);
      return;
    }
    const err = call.error;
    if (err && err.code === Code.NOT_FOUND && call.resumeId && !call.established) {
      this.sessionId = ''; // the server forgot the session: start a new one and renumber
    } else if (err && PERMANENT.has(err.code)) {
      this._fail(new EngramError(err.code, `stream on space '${this.space}' failed: ${err.message}`));
      return;
    }
    const stalled = call.workSent && !call.progressed;
    if (call.established && !stalled) {
      this._attempts = 0;
      this._stalls = 0;
    } else if (stalled && ++this._stalls >= this.options.maxRepeatedFailures) {
      this._fail(new EngramError(err?.code ?? Code.UNAVAILABLE,
        `stream on space '${this.space}' failed: the server ended ${this._stalls} sockets in a row`
        + ` with work unacknowledged (last: ${describeEnd(err, wsCode, wsReason)})`));
      return;
    }
    if (++this._attempts > this.options.maxReconnectAttempts) {
      this._fail(new EngramError(err?.code ?? Code.UNAVAILABLE,
        `stream on space '${this.space}' gave up after ${this._attempts - 1} reconnect attempts`
        + ` (last: ${describeEnd(err, wsCode, wsReason)})`));
      return;
    }
    this.stats.reconnects++;
    const base = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** Math.min(this._attempts - 1, 20));
    const delayMs = Math.round(base / 2 + Math.random() * (base / 2));
    this._emit('disconnected', { code: wsCode, reason: err ? err.message : wsReason, attempt: this._attempts, delayMs });
    setTimeout(() => {
      if (!this._finished) this._open();
    }, delayMs);
  }

  // ---- sending ----

  _kick() {
    if (this._pumpQueued) return;
    this._pumpQueued = true;
    queueMicrotask(() => {
      this._pumpQueued = false;
      this._pump();
    });
  }

  _pump() {
    const call = this._call;
    if (!call || !call.ws || call.ws.readyState !== OPEN || this._finished) return;
    for (;;) {
      if (call.ws.bufferedAmount > this.options.highWaterBytes) {
        this._schedule(5); // browsers have no writability event: look again shortly
        return;
      }
      const frame = this._next(call);
      if (frame === null) return;
      call.ws.send(frame);
    }
  }

  _next(call) {
    if (!call.initSent) {
      call.initSent = true;
      const init = {
        memorySpaceId: this.space,
        init: { clientBufferSize: this._capacity, enableBackpressure: true, maxBatchSize: this.options.maxBatchSize },
      };
      if (call.resumeId) init.sessionId = call.resumeId;
      if (this.options.token) init.init.authorization = `Bearer ${this.options.token}`;
      return JSON.stringify(init);
    }
    if (!call.established || call.closeSent) return null;
    if (this._cursor < this._head) this._cursor = this._head;
    for (const r of this._recalls.values()) {
      if (!r.sent && r.after <= this._cursor) {
        r.sent = true;
        call.workSent = true;
        return JSON.stringify({ memorySpaceId: this.space, recall: r.request });
      }
    }
    if (this._closing && this._head === this._tail) {
      if ([...this._recalls.values()].some((r) => !r.sent)) return null;
      call.closeSent = true;
      return JSON.stringify({
        memorySpaceId: this.space,
        close: { drainQueue: true, lastSequence: String(Math.max(0, this._tail - 1 + this._seqOffset)) },
      });
    }
    if (this._cursor >= this._tail) return null;
    const t = now();
    if (t < this._pausedUntil) {
      this._schedule(this._pausedUntil - t);
      return null;
    }
    let n = Math.min(this._tail - this._cursor, this.options.maxBatchSize, this._serverMaxBatch);
    if (this._pacingRate > 0) {
      this._tokens = Math.min(Math.max(1, this._pacingRate / 20),
        this._tokens + ((t - this._tokensAt) * this._pacingRate) / 1000);
      this._tokensAt = t;
      if (this._tokens < 1) {
        this._schedule(Math.min(100, ((1 - this._tokens) / this._pacingRate) * 1000));
        return null;
      }
      n = Math.min(n, Math.floor(this._tokens));
    }
    const budget = Math.min(this.options.maxBatchBytes, this._maxMessageBytes - FRAME_OVERHEAD);
    const first = this._cursor;
    const parts = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const entry = this._ring[(first + i) % this._capacity];
      if (i > 0 && bytes + entry.bytes + 1 > budget) break;
      bytes += entry.bytes + 1;
      parts.push(entry.json);
    }
    if (this._pacingRate > 0) this._tokens -= parts.length;
    const seq = String(first + this._seqOffset);
    const frame = parts.length === 1
      ? `{"memorySpaceId":${JSON.stringify(this.space)},"sequenceNumber":"${seq}","observation":${parts[0]}}`
      : `{"memorySpaceId":${JSON.stringify(this.space)},"sequenceNumber":"${seq}","observations":{"episodes":[${parts.join(',')}]}}`;
    call.workSent = true;
    this._cursor = first + parts.length;
    this.stats.sent += parts.length;
    if (first < this._sentHighWater) this.stats.resent += Math.min(this._sentHighWater, this._cursor) - first;
    this._sentHighWater = Math.max(this._sentHighWater, this._cursor);
    return frame;
  }

  /** A pump after delayMs, unless one is already due by then. */
  _schedule(delayMs) {
    const at = now() + Math.max(1, delayMs);
    if (at >= this._timerAt) return;
    clearTimeout(this._timer);
    this._timerAt = at;
    this._timer = setTimeout(() => {
      this._timerAt = Infinity;
      this._timer = null;
      this._pump();
    }, Math.max(1, delayMs));
  }

  // ---- buffer ----

  _dropAccepted(through) {
    const upTo = Math.min(through, this._tail - 1);
    if (upTo < this._head) return;
    for (let t = this._head; t <= upTo; t++) {
      const s = t % this._capacity;
      if (this._ring[s].rejected) this.stats.rejected++;
      else this.stats.acked++;
      this._ring[s] = undefined;
    }
    this._head = upTo + 1;
    if (this._roomWaiters.length) {
      const room = this.room;
      this._roomWaiters = this._roomWaiters.filter((w) => (w.need <= room ? (w.resolve(), false) : true));
    }
    if (this._flushWaiters.length) {
      this._flushWaiters = this._flushWaiters.filter((w) => (w.through < this._head ? (w.resolve(), false) : true));
    }
  }

  // ---- ending ----

  _throwIfUnusable() {
    if (this._failure) throw this._failure;
    if (this._closing || this._finished) throw new EngramError(Code.CANCELLED, 'stream is closing or closed');
  }

  _fail(error) {
    if (this._finished) return;
    this._failure = error;
    this._emit('failed', { error });
    this._finish(error);
  }

  _finish(error) {
    this._finished = true;
    clearTimeout(this._timer);
    const call = this._call;
    this._call = null;
    this._gen++;
    if (call?.ws && call.ws.readyState <= OPEN) {
      try {
        call.ws.close(1000, 'client closed');
      } catch {
        // already closing
      }
    }
    const cancelled = error ?? new EngramError(Code.CANCELLED, 'stream closed');
    for (const [id, r] of this._recalls) {
      clearTimeout(r.timer);
      r.reject(cancelled);
      this._recalls.delete(id);
    }
    for (const w of this._roomWaiters) w.reject(cancelled);
    for (const w of this._flushWaiters) w.reject(cancelled);
    this._roomWaiters = [];
    this._flushWaiters = [];
    this._readyReject(cancelled);
    if (error) {
      this._closedReject(error);
    } else {
      this._closedResolve();
      this._emit('closed', {});
    }
  }

  _emit(type, detail) {
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    } catch (e) {
      console.error(`engram.js: a '${type}' listener threw`, e);
    }
  }
}

// ---- helpers ----

/** uint64 fields arrive as strings, absent when zero. */
function num(v) {
  return v === undefined || v === null || v === '' ? 0 : Number(v);
}

function now() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function randomId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function byteLength(s) {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : new TextEncoder().encode(s).length;
}

function describeEnd(err, wsCode, wsReason) {
  if (err) return `${CODE_NAMES[err.code] ?? err.code}: ${err.message}`;
  return `socket closed ${wsCode}${wsReason ? ` (${wsReason})` : ''}`;
}

/** ws(s) URL of the stream endpoint for a space. */
export function streamUrl(url, space) {
  let base = url;
  if (base.startsWith('/') && typeof location !== 'undefined') base = location.origin + base;
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/stream';
  u.searchParams.set('space', space);
  return u.toString();
}
