// Unit tests of the console's JavaScript client (engram.js) with a scripted WebSocket: each test
// plays the server's side frame by frame and checks what the client sends. Run: node --test.
// The end-to-end test against a real server is console.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../main/resources/console/engram.js');
const { connect, EngramStream, EngramError, BufferFullError, Code, streamUrl } = await import(
  `data:text/javascript;base64,${Buffer.from(readFileSync(SRC)).toString('base64')}`);

/** A WebSocket whose peer is the test: it records frames and is told what arrives. */
class ScriptedSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.sent = [];
    ScriptedSocket.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(data) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000, reason = '') {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
  receive(msg) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  /** The server ends the socket. */
  drop(code = 1006, reason = '') {
    this.close(code, reason);
  }
  take() {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const last = () => ScriptedSocket.all[ScriptedSocket.all.length - 1];

function options(extra = {}) {
  return { WebSocket: ScriptedSocket, initialBackoffMs: 1, maxBackoffMs: 2, maxBatchSize: 100, ...extra };
}

async function established(space = 's1', extra = {}, next = 1, sessionId = 'sess-1') {
  const p = connect('http://localhost:7432', space, options(extra));
  await tick();
  const ws = last();
  const [init] = ws.take();
  assert.equal(init.memorySpaceId, space);
  assert.ok(init.init, 'the first frame is init');
  ws.receive({ initAck: { sessionId, nextSequence: String(next), capabilities: { maxBatchSize: 1000, maxMessageBytes: 1 << 20, queueCapacity: 1000 } } });
  const stream = await p;
  return { stream, ws };
}

const episode = (i) => ({ embedding: [i, 1], content: `e${i}` });
const seqs = (frames) => frames.flatMap((f) => {
  const first = Number(f.sequenceNumber);
  const n = f.observations ? f.observations.episodes.length : f.observation ? 1 : 0;
  return Array.from({ length: n }, (_, i) => first + i);
});

test('streamUrl_httpBase_pointsAtStreamPathWithSpace', () => {
  assert.equal(streamUrl('http://h:7432', 'a b'), 'ws://h:7432/v1/stream?space=a+b');
  assert.equal(streamUrl('https://h/v1/stream', 'x'), 'wss://h/v1/stream?space=x');
});

test('token_goesInTheInitMessage_neverInTheUrl', async () => {
  const p = connect('http://localhost:7432', 's1', options({ token: 'egt_ab.secret' }));
  await tick();
  const ws = last();
  const [init] = ws.take();
  assert.equal(init.init.authorization, 'Bearer egt_ab.secret');
  assert.ok(!ws.url.includes('secret'), 'the URL (which ends up in logs) has no token');
  ws.receive({ initAck: { sessionId: 'x', nextSequence: '1', capabilities: { maxBatchSize: 10, maxMessageBytes: 1 << 20, queueCapacity: 10 } } });
  await p;
  const plain = connect('http://localhost:7432', 's1', options());
  await tick();
  assert.equal(last().take()[0].init.authorization, undefined);
  last().receive({ initAck: { sessionId: 'y', nextSequence: '1', capabilities: { maxBatchSize: 10, maxMessageBytes: 1 << 20, queueCapacity: 10 } } });
  await plain;
});

test('observe_afterInit_numbersFromNextSequenceInBatchesAndAckDropsBuffer', async () => {
  const { stream, ws } = await established('s1', {}, 41);
  for (let i = 0; i < 250; i++) stream.observe(episode(i));
  await tick();
  const frames = ws.take();
  assert.deepEqual(frames.map((f) => f.observations?.episodes.length ?? 1), [100, 100, 50]);
  assert.deepEqual(seqs(frames), Array.from({ length: 250 }, (_, i) => 41 + i));
  assert.equal(frames[0].sequenceNumber, '41', 'uint64 as a string');
  assert.ok(frames[0].observations.episodes[0].id, 'an episode without an id gets one');
  assert.equal(stream.buffered, 250);
  const flushed = stream.flush();
  ws.receive({ ack: { acceptedThrough: '190', indexedThrough: '100' } });
  assert.equal(stream.buffered, 100);
  ws.receive({ ack: { acceptedThrough: '290' } });
  await flushed;
  assert.equal(stream.buffered, 0);
  assert.equal(stream.stats.acked, 250);
});

test('resend_gap_goesBackToFromSequence', async () => {
  const { stream, ws } = await established();
  for (let i = 0; i < 10; i++) stream.observe(episode(i));
  await tick();
  ws.take();
  ws.receive({ ack: { acceptedThrough: '3' } });
  ws.receive({ resend: { fromSequence: '4', reason: 'RESEND_REASON_GAP' } });
  await tick();
  assert.deepEqual(seqs(ws.take()), [4, 5, 6, 7, 8, 9, 10]);
  assert.equal(stream.stats.resent, 7);
});

test('resend_overloaded_waitsRetryAfterBeforeResending', async () => {
  const { stream, ws } = await established();
  for (let i = 0; i < 5; i++) stream.observe(episode(i));
  await tick();
  ws.take();
  ws.receive({ resend: { fromSequence: '2', reason: 'RESEND_REASON_OVERLOADED', retryAfterMs: 60 } });
  await tick(20);
  assert.deepEqual(ws.take(), [], 'nothing is sent during retry_after_ms');
  await tick(80);
  assert.deepEqual(seqs(ws.take()), [2, 3, 4, 5]);
});

test('recall_afterObservations_isSentAfterThemAndResolvedByRequestId', async () => {
  const { stream, ws } = await established();
  stream.observe(episode(1));
  const answer = stream.recall({ embedding: [1, 1], k: 3 });
  const refused = stream.recall({ embedding: [1, 1], k: 3 });
  await tick();
  const frames = ws.take();
  assert.ok(frames[0].observation, 'the observation goes first');
  const [r1, r2] = [frames[1].recall, frames[2].recall];
  assert.ok(r1.requestId && r2.requestId && r1.requestId !== r2.requestId);
  ws.receive({ recall: { requestId: r1.requestId, memories: [{ episode: { id: 'x' }, score: 1 }] } });
  ws.receive({ rejection: { requestId: r2.requestId, code: Code.INVALID_ARGUMENT, message: 'k too large' } });
  assert.equal((await answer).memories[0].episode.id, 'x');
  await assert.rejects(refused, (e) => e instanceof EngramError && e.code === Code.INVALID_ARGUMENT);
});

test('rejection_ofObservation_isReportedAndConsumesItsNumber', async () => {
  const { stream, ws } = await established();
  const seen = [];
  stream.addEventListener('rejected', (e) => seen.push(e.detail));
  stream.observe(episode(1));
  stream.observe(episode(2));
  await tick();
  ws.receive({ rejection: { sequenceNumber: '1', code: Code.INVALID_ARGUMENT, message: 'wrong dimension' } });
  ws.receive({ ack: { acceptedThrough: '2' } });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].ticket, 0);
  assert.equal(seen[0].codeName, 'INVALID_ARGUMENT');
  assert.equal(stream.stats.rejected, 1);
  assert.equal(stream.stats.acked, 1);
});

test('droppedSocket_resumesSessionAndResendsFromNextSequence_withPendingRecall', async () => {
  const { stream, ws } = await established();
  for (let i = 0; i < 6; i++) stream.observe(episode(i));
  const answer = stream.recall({ embedding: [1, 1] });
  await tick();
  ws.take();
  ws.receive({ ack: { acceptedThrough: '2' } });
  ws.drop(1006);
  await tick(20);
  const ws2 = last();
  assert.notEqual(ws2, ws);
  const [init] = ws2.take();
  assert.equal(init.sessionId, 'sess-1', 'resumes its session');
  ws2.receive({ initAck: { sessionId: 'sess-1', nextSequence: '5' } }); // the server had 3 and 4 too
  await tick();
  const frames = ws2.take();
  assert.deepEqual(seqs(frames), [5, 6]);
  const recall = frames.find((f) => f.recall).recall;
  ws2.receive({ recall: { requestId: recall.requestId } });
  assert.deepEqual((await answer).memories, []);
  assert.equal(stream.buffered, 2);
});

test('resume_ofForgottenSession_startsNewSessionAndRenumbersBuffer', async () => {
  const { stream, ws } = await established();
  for (let i = 0; i < 3; i++) stream.observe(episode(i));
  await tick();
  ws.take();
  ws.drop(1006);
  await tick(20);
  let w = last();
  assert.equal(w.take()[0].sessionId, 'sess-1');
  w.receive({ error: { code: Code.NOT_FOUND, message: 'no such session' } });
  w.drop(1011);
  await tick(20);
  w = last();
  const [init] = w.take();
  assert.equal(init.sessionId, undefined, 'a new session');
  w.receive({ initAck: { sessionId: 'sess-2', nextSequence: '1' } });
  await tick();
  const frames = w.take();
  assert.deepEqual(seqs(frames), [1, 2, 3]);
  assert.equal(stream.sessionId, 'sess-2');
});

test('streamError_permanent_failsStreamAndPendingCalls', async () => {
  const { stream, ws } = await established();
  const answer = stream.recall({ embedding: [1] });
  await tick();
  ws.receive({ error: { code: Code.FAILED_PRECONDITION, message: 'space deleted' } });
  ws.drop(1011);
  await assert.rejects(answer, (e) => e.code === Code.FAILED_PRECONDITION);
  assert.throws(() => stream.observe(episode(1)), (e) => e.code === Code.FAILED_PRECONDITION);
});

test('connect_toUnknownSpace_rejects', async () => {
  const p = connect('ws://h', 'nope', options());
  await tick();
  const ws = last();
  ws.receive({ error: { code: Code.NOT_FOUND, message: "space 'nope' does not exist" } });
  ws.drop(1011);
  await assert.rejects(p, (e) => e.code === Code.NOT_FOUND && /nope/.test(e.message));
});

test('close_drains_sendsCloseOnlyAfterBufferIsAcked', async () => {
  const { stream, ws } = await established();
  stream.observe(episode(1));
  stream.observe(episode(2));
  const closed = stream.close();
  await tick();
  assert.equal(ws.take().filter((f) => f.close).length, 0, 'no close while observations are unacked');
  ws.receive({ ack: { acceptedThrough: '2' } });
  await tick();
  const [close] = ws.take();
  assert.deepEqual(close.close, { drainQueue: true, lastSequence: '2' });
  ws.drop(1000);
  await closed;
  assert.throws(() => stream.observe(episode(3)), (e) => e.code === Code.CANCELLED);
});

test('observe_fullBuffer_throwsAndWaitForRoomResolvesOnAck', async () => {
  const { stream, ws } = await established('s1', { bufferSize: 2 });
  stream.observe(episode(1));
  stream.observe(episode(2));
  assert.throws(() => stream.observe(episode(3)), BufferFullError);
  const room = stream.waitForRoom();
  ws.receive({ ack: { acceptedThrough: '1' } });
  await room;
  assert.equal(stream.room, 1);
  assert.throws(() => stream.observe({ embedding: [NaN] }), (e) => e.code === Code.INVALID_ARGUMENT);
});

test('backpressureStatus_pacesSending', async () => {
  const { stream, ws } = await established('s1', { minPacingRate: 100 });
  ws.receive({ status: { state: 'STREAM_STATE_BACKPRESSURE', pressure: 0.85, suggestedRate: 100 } });
  for (let i = 0; i < 50; i++) stream.observe(episode(i));
  await tick(100);
  const sent = seqs(ws.take()).length;
  assert.ok(sent >= 3 && sent <= 25, `about 100/s for 100 ms, sent ${sent}`);
  ws.receive({ status: { state: 'STREAM_STATE_ACTIVE', pressure: 0.4 } });
  await tick(10);
  assert.equal(seqs(ws.take()).length, 50 - sent, 'ACTIVE lifts the pacing');
  assert.equal(stream.state, 'STREAM_STATE_ACTIVE');
  assert.ok(stream instanceof EngramStream);
});

test('streamError_serverKeepsSocketOpen_clientClosesAndFails', async () => {
  const { stream, ws } = await established();
  const failed = new Promise((r) => stream.addEventListener('failed', (e) => r(e.detail.error)));
  ws.receive({ error: { code: Code.INVALID_ARGUMENT, message: 'bad frame' } });
  const error = await failed;
  assert.equal(error.code, Code.INVALID_ARGUMENT);
  assert.equal(ws.readyState, 3, 'the client closed the socket');
});
