"""Sequencing at the wire (duplicates, gaps), rejections on the stream, message-size limits, and
bounded retries of a failure that repeats, against the real server and an in-process fake."""

import asyncio
import threading
import time

import grpc
import numpy as np
import pytest

import engram
from engram import pb
from engram import stream as stream_module


def _raw_stream(target, requests):
    """Sends ``requests`` on a raw Stream call; returns the responses until the server ends it."""
    with grpc.insecure_channel(target) as channel:
        call = channel.stream_stream("/engram.v1.MemoryService/Stream",
                                     request_serializer=pb.StreamRequest.SerializeToString,
                                     response_deserializer=pb.StreamResponse.FromString)
        return list(call(iter(requests), timeout=30))


def test_rawStream_duplicateReackedGapAnsweredWithResend(server, space_name):
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 2)
    ep = lambda i: pb.Episode(id=f"w-{i}", embedding=[1.0, float(i)])  # noqa: E731
    s = space_name
    responses = _raw_stream(server.target, [
        pb.StreamRequest(memory_space_id=s, init=pb.StreamInit(enable_backpressure=True)),
        pb.StreamRequest(memory_space_id=s, sequence_number=1, observation=ep(1)),
        pb.StreamRequest(memory_space_id=s, sequence_number=1, observation=ep(1)),  # duplicate
        pb.StreamRequest(memory_space_id=s, sequence_number=3, observation=ep(3)),  # gap: 2 missing
        pb.StreamRequest(memory_space_id=s, sequence_number=2, observations=pb.EpisodeBatch(episodes=[ep(2), ep(3)])),
        pb.StreamRequest(memory_space_id=s, close=pb.StreamClose(drain_queue=True, last_sequence=3)),
    ])
    init = responses[0].init_ack
    assert init.next_sequence == 1
    resends = [r.resend for r in responses if r.WhichOneof("kind") == "resend"]
    assert [(r.from_sequence, r.reason) for r in resends] == [(2, pb.RESEND_REASON_GAP)]
    acks = [r.ack.accepted_through for r in responses if r.WhichOneof("kind") == "ack"]
    assert acks and max(acks) == 3
    with engram.EngramClient(server.target) as client:
        assert client.get_space(space_name).episode_count == 3


def test_stream_rejectionsReportedAndStreamContinues(server, space_name):
    rejected = []

    class L(engram.StreamListener):
        def on_rejected(self, r):
            rejected.append(r)

    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 4)
        with client.stream(space_name, listener=L()) as stream:
            stream.observe([1, 0, 0, 0], "good", id="good-1")
            bad = stream.observe([1, 0, 0], "three dims", id="bad-dim")
            nan = stream.observe(np.array([np.nan, 0, 0, 1], dtype=np.float32), id="bad-nan")
            stream.observe([0, 1, 0, 0], "good", id="good-2")
            hits = stream.recall([0, 1, 0, 0], k=5)  # read-your-writes, after a rejection too
            assert {m.episode.id for m in hits.memories} == {"good-1", "good-2"}
            with pytest.raises(engram.InvalidArgument):
                stream.recall([1, 0], k=1)  # a recall of the wrong dimension is rejected by request_id
            assert stream.close(30)
            stats = stream.stats()
        assert sorted(r.ticket for r in rejected) == [bad, nan]
        assert {r.episode_id for r in rejected} == {"bad-dim", "bad-nan"}
        assert all(r.code == grpc.StatusCode.INVALID_ARGUMENT and r.message for r in rejected)
        assert stats.acknowledged == 2 and stats.rejected == 2
        assert client.get_space(space_name).episode_count == 2


def test_stream_largeEpisodesSplitToFitMessageLimit_tooLargeOneFailsClearly(server, space_name):
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 4)
        content = "x" * 60_000  # 256 of these are ~15 MiB: more than one 4 MiB message
        with client.stream(space_name, max_batch_bytes=64 << 20) as stream:
            for i in range(256):
                stream.observe([1, 0, 0, float(i)], content, id=f"big-{i}")
            with pytest.raises(engram.EpisodeTooLarge) as too_large:
                stream.observe([1, 0, 0, 0], "", metadata={"blob": "y" * (5 << 20)})
            assert too_large.value.limit == 4 << 20 and too_large.value.size > too_large.value.limit
            assert stream.close(60)
            assert stream.stats().acknowledged == 256
        assert client.get_space(space_name).episode_count == 256


def test_stream_advertisedMaxMessageBytesAndBatchSize_capBatches():
    sent = []

    class Server:
        def Stream(self, request_iterator, context):
            for r in request_iterator:
                kind = r.WhichOneof("kind")
                if kind == "init":
                    yield pb.StreamResponse(init_ack=pb.StreamInitAck(
                        session_id="s1", next_sequence=1,
                        capabilities=pb.StreamCapabilities(max_message_bytes=4096, max_batch_size=7)))
                elif kind in ("observation", "observations"):
                    sent.append((r.ByteSize(), len(r.observations.episodes) or 1))
                    last = r.sequence_number + (len(r.observations.episodes) or 1) - 1
                    yield pb.StreamResponse(ack=pb.ObservationAck(accepted_through=last))
                elif kind == "close":
                    return

    with _fake_server(Server()) as target, engram.EngramClient(target) as client:
        with client.stream("s", max_batch_bytes=1 << 20) as stream:
            for i in range(300):
                stream.observe([0.0] * 100, id=f"e{i}")  # ~420 bytes each
            deadline = time.monotonic() + 10
            while not stream.stats().connected:  # the limit is known once the server said it
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with pytest.raises(engram.EpisodeTooLarge):
                stream.observe([0.0] * 2000)  # 8 KB alone: over the advertised 4096
            assert stream.close(30)
    assert sum(n for _, n in sent) == 300
    assert all(size <= 4096 and n <= 7 for size, n in sent), sent
    assert any(n > 1 for _, n in sent)


def test_stream_resourceExhaustedEveryTime_failsAfterBoundedRetries():
    attempts = []

    class Server:
        def Stream(self, request_iterator, context):
            attempts.append(1)
            next(request_iterator)
            yield pb.StreamResponse(init_ack=pb.StreamInitAck(session_id=f"s{len(attempts)}", next_sequence=1))
            next(request_iterator)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "message larger than max")

    failed = threading.Event()

    class L(engram.StreamListener):
        def on_failed(self, error):
            failed.set()

    with _fake_server(Server()) as target, engram.EngramClient(target) as client:
        stream = client.stream("s", listener=L(), initial_backoff=0.01, max_backoff=0.02, max_same_failures=4)
        stream.observe([1.0, 2.0])
        assert failed.wait(30), "the stream reconnected forever on the same RESOURCE_EXHAUSTED"
        assert len(attempts) == 4
        with pytest.raises(engram.StreamFailed) as e:
            stream.observe([1.0, 2.0])
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "4 identical failures" in e.value.message
        assert not stream.close(1)


class _fake_server:
    def __init__(self, impl):
        self.impl = impl

    def __enter__(self):
        from concurrent import futures
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        handler = grpc.method_handlers_generic_handler("engram.v1.MemoryService", {
            "Stream": grpc.stream_stream_rpc_method_handler(
                self.impl.Stream, request_deserializer=pb.StreamRequest.FromString,
                response_serializer=pb.StreamResponse.SerializeToString)})
        self.server.add_generic_rpc_handlers((handler,))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc):
        self.server.stop(0)
