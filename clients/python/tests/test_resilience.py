"""The stream's never-lose guarantees under restarts, cut connections, overload and a silent server."""

import asyncio
import threading
import time

import numpy as np
import pytest

import engram
from engram import pb
from conftest import BIG_QUEUE
from servers import ChaosProxy, EngramServer


def _vectors(n, dim=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


class Recorder(engram.StreamListener):
    def __init__(self):
        self.rejected = []
        self.resends = []
        self.disconnects = 0
        self.connected = []

    def on_rejected(self, rejected):
        self.rejected.append(rejected)

    def on_resend(self, from_ticket, reason, retry_after_ms):
        self.resends.append((time.monotonic(), from_ticket, reason, retry_after_ms))

    def on_disconnected(self, error, attempt, delay):
        self.disconnects += 1

    def on_connected(self, session_id, resumed):
        self.connected.append((session_id, resumed))


def test_serverRestartedMidStream_20000StoredExactlyOnce(tmp_path, space_name):
    server = EngramServer(str(tmp_path / "data"), *BIG_QUEUE).start()
    try:
        vectors = _vectors(20_000, seed=3)
        with engram.EngramClient(server.target) as client:
            client.create_space(space_name, 8)
            listener = Recorder()
            stream = client.stream(space_name, listener=listener, buffer_size=20_000, max_backoff=0.5)
            for i in range(10_000):
                stream.observe(vectors[i])
            server.kill()  # kill -9 mid-stream: what was acked is durable, the rest is in our buffer
            for i in range(10_000, 20_000):
                stream.observe(vectors[i])
            server.start()
            assert stream.close(120), stream.stats()
            stats = stream.stats()
            assert stats.acknowledged == 20_000 and stats.rejected == 0
            assert stats.reconnects >= 1
            assert client.get_space(space_name).episode_count == 20_000
    finally:
        server.stop()


def _await_reconnect(stream, timeout=20.0):
    """Waits (bounded) until the chaos proxy has made the stream reconnect at least once."""
    deadline = time.monotonic() + timeout
    while stream.stats().reconnects == 0:
        assert time.monotonic() < deadline, f"no reconnect within {timeout} s: {stream.stats()}"
        time.sleep(0.01)


def test_connectionsCutAtRandomPoints_50000StoredExactlyOnce(server, space_name):
    proxy = ChaosProxy(server.port)
    try:
        vectors = _vectors(50_000, seed=4)
        with engram.EngramClient(server.target) as admin, engram.EngramClient(proxy.target) as client:
            admin.create_space(space_name, 8)
            stream = client.stream(space_name, buffer_size=4096, initial_backoff=0.01, max_backoff=0.2)
            proxy.start_chaos(0.05, 0.4, seed=11)
            for i, v in enumerate(vectors):
                if i == len(vectors) // 2:
                    _await_reconnect(stream)  # a fast first half may finish between two cuts
                stream.observe(v)
            proxy.stop_chaos()
            assert stream.close(120), stream.stats()
            stats = stream.stats()
            assert stats.acknowledged == 50_000 and stats.rejected == 0
            assert stats.reconnects > 0 and proxy.cuts > 0
            assert admin.get_space(space_name).episode_count == 50_000
    finally:
        proxy.close()


def test_overloadWithSmallQueue_nothingLostNoDuplicatesRetryAfterHonoured(tmp_path, space_name):
    server = EngramServer(str(tmp_path / "data"), "--queue-capacity", "10", "--workers", "1").start()
    try:
        dim = 64
        n = 2000
        vectors = _vectors(n, dim=dim, seed=5)
        with engram.EngramClient(server.target) as client:
            client.create_space(space_name, dim)
            listener = Recorder()
            stream = client.stream(space_name, listener=listener)
            sends = []
            stream._driver.send_trace = lambda at, message: sends.append((at, pb.StreamRequest.FromString(message)))
            for i, v in enumerate(vectors):
                stream.observe(v, id=f"ov-{i}")
            assert stream.close(120), stream.stats()
            stats = stream.stats()
        overloaded = [r for r in listener.resends if r[2] == pb.RESEND_REASON_OVERLOADED]
        assert overloaded, "the small queue never overloaded; the test proves nothing"
        assert stats.overload_pauses == len(overloaded)
        assert stats.acknowledged == n and stats.rejected == 0 and stats.resent > 0
        with engram.EngramClient(server.target) as client:
            assert client.get_space(space_name).episode_count == n
        # retry_after honoured: after each OVERLOADED resend, no observation goes out before it passed.
        # (``at`` is taken in the listener, a moment after the pause started: 2 ms of slack.)
        for at, _, _, retry_ms in overloaded:
            later = [t for t, m in sends if t > at and m.WhichOneof("kind") in ("observation", "observations")]
            if later:
                assert later[0] - at >= retry_ms / 1000.0 - 0.002, (later[0] - at, retry_ms)
    finally:
        server.stop()


def test_serverStopsAcknowledging_bufferBoundHolds(server, space_name):
    proxy = ChaosProxy(server.port)
    try:
        with engram.EngramClient(server.target) as admin, engram.EngramClient(proxy.target) as client:
            admin.create_space(space_name, 8)
            vectors = _vectors(300, seed=6)
            stream = client.stream(space_name, buffer_size=100, fail_when_full=True)
            stream.observe(vectors[0])
            deadline = time.monotonic() + 30
            while stream.stats().acknowledged < 1:
                assert time.monotonic() < deadline, "first observation never acknowledged"
                time.sleep(0.01)
            proxy.pause()  # the server's acks stop arriving
            for i in range(1, 101):
                stream.observe(vectors[i])
            with pytest.raises(engram.BufferFull) as full:
                stream.observe(vectors[101])
            assert full.value.capacity == 100
            assert not stream.try_observe(vectors[101])
            assert stream.stats().buffered == 100
            proxy.resume()
            assert stream.close(60), stream.stats()
            assert admin.get_space(space_name).episode_count == 101

            blocking = client.stream(space_name, buffer_size=10, block_timeout=0.3)
            blocking.observe(vectors[200])
            while blocking.stats().acknowledged < 1:
                time.sleep(0.01)
            proxy.pause()
            for i in range(10):
                blocking.observe(vectors[201 + i])
            started = time.monotonic()
            with pytest.raises(engram.BufferFull):
                blocking.observe(vectors[299])
            assert time.monotonic() - started >= 0.29
            proxy.resume()
            assert blocking.close(60)
            assert admin.get_space(space_name).episode_count == 112
    finally:
        proxy.close()


def test_asyncStream_serverStopsAcknowledging_observeWaitsThenRaises(server, space_name):
    proxy = ChaosProxy(server.port)

    async def run():
        async with engram.AsyncEngramClient(proxy.target) as client:
            await client.create_space(space_name, 8)
            stream = client.stream(space_name, buffer_size=5, block_timeout=0.2)
            await stream.observe([1.0] * 8)
            while stream.stats().acknowledged < 1:
                await asyncio.sleep(0.01)
            proxy.pause()
            for _ in range(5):
                await stream.observe([0.5] * 8)
            with pytest.raises(engram.BufferFull):
                await stream.observe([0.25] * 8)
            proxy.resume()
            # a waiting observe gets its room as soon as acks come back
            assert await stream.close(60)
            assert (await client.get_space(space_name)).episode_count == 6

    try:
        asyncio.run(run())
    finally:
        proxy.close()


def test_asyncStream_connectionsCut_storedExactlyOnce(server, space_name):
    proxy = ChaosProxy(server.port)

    async def run():
        async with engram.AsyncEngramClient(proxy.target) as client:
            await client.create_space(space_name, 8)
            stream = client.stream(space_name, buffer_size=2048, initial_backoff=0.01, max_backoff=0.2)
            proxy.start_chaos(0.05, 0.3, seed=12)
            for i, v in enumerate(_vectors(10_000, seed=7)):
                if i == 5_000:
                    await asyncio.to_thread(_await_reconnect, stream)  # the first half may beat every cut
                await stream.observe(v)
            proxy.stop_chaos()
            assert await stream.close(120), stream.stats()
            assert stream.stats().reconnects > 0
            assert (await client.get_space(space_name)).episode_count == 10_000

    try:
        asyncio.run(run())
    finally:
        proxy.close()
