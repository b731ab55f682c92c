"""Unary calls and the stream's basic round trip, against a real server."""

import asyncio

import numpy as np
import pytest

import engram
from engram import pb


def test_unary_roundtrip_createRememberRecallForget(server, space_name):
    with engram.EngramClient(server.target) as client:
        space = client.create_space(space_name, 4, "cosine")
        assert space.dimension == 4 and space.metric == pb.METRIC_COSINE
        assert space_name in [s.memory_space_id for s in client.list_spaces()]
        ids = client.remember(space_name, [
            engram.episode(np.array([1, 0, 0, 0], dtype=np.float32), "north", id="n"),
            engram.episode([0, 1, 0, 0], "east", id="e", metadata={"kind": "dir"}),
        ]).ids
        assert list(ids) == ["n", "e"]
        again = client.remember(space_name, engram.episode([1, 0, 0, 0], "north", id="n"))
        assert again.duplicates == 1
        hits = client.recall(space_name, [0.9, 0.1, 0, 0], k=1)
        assert hits.memories[0].episode.id == "n"
        assert client.get_space(space_name).episode_count == 2
        assert client.forget(space_name, ["n"]) == 1
        assert [m.episode.id for m in client.recall(space_name, [1, 0, 0, 0], k=2).memories] == ["e"]
        client.delete_space(space_name)
        with pytest.raises(engram.NotFound) as e:
            client.get_space(space_name)
        assert space_name in e.value.message


def test_unary_errors_areTypedWithTheServersMessage(server, space_name):
    with engram.EngramClient(server.target) as client:
        with pytest.raises(engram.InvalidArgument) as bad_id:
            client.create_space("Not Valid!", 4)
        assert bad_id.value.message
        client.create_space(space_name, 3)
        with pytest.raises(engram.InvalidArgument) as wrong_dim:
            client.remember(space_name, engram.episode([1.0, 2.0], "two dims"))
        assert "dimension" in wrong_dim.value.message.lower()
        with pytest.raises(engram.NotFound):
            client.recall("no-such-space", [1, 2, 3], k=1)


def test_syncStream_observeThenRecall_readsItsOwnWrites(server, space_name):
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8)
        rng = np.random.default_rng(1)
        vectors = rng.standard_normal((500, 8)).astype(np.float32)
        with client.stream(space_name) as stream:
            for i, v in enumerate(vectors):
                stream.observe(v, f"obs {i}", id=f"o-{i}")
            hits = stream.recall(vectors[499], k=1)  # sent after the 500 observations
            assert hits.memories[0].episode.id == "o-499"
            assert stream.close(30)
            stats = stream.stats()
        assert stats.acknowledged == 500 and stats.buffered == 0 and stats.rejected == 0
        assert client.get_space(space_name).episode_count == 500


def test_asyncStream_observeThenRecall_readsItsOwnWrites(server, space_name):
    async def run():
        async with engram.AsyncEngramClient(server.target) as client:
            await client.create_space(space_name, 8)
            rng = np.random.default_rng(2)
            vectors = rng.standard_normal((500, 8)).astype(np.float32)
            stream = client.stream(space_name)
            for i, v in enumerate(vectors):
                await stream.observe(v.tolist(), f"obs {i}", id=f"a-{i}")
            hits = await stream.recall(vectors[250], k=1)
            assert hits.memories[0].episode.id == "a-250"
            assert await stream.close(30)
            assert stream.stats().acknowledged == 500
            assert (await client.get_space(space_name)).episode_count == 500

    asyncio.run(run())
