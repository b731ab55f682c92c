"""Recall modes, filters, text-only episodes with a server-side embedder and the consolidation
watermark, against a real server."""

import time

import numpy as np
import pytest

import engram
from engram import pb

TOPICS = ["the lighthouse keeper painted the tower red", "a recipe for lemon cake with poppy seeds",
          "the train to Porto leaves at nine", "our cat sleeps on the warm laptop",
          "the quarterly budget meeting moved to Friday", "a hike up the volcano at sunrise"]


def _observe_topics(stream, rng, dim=8):
    for i, text in enumerate(TOPICS):
        stream.observe(rng.standard_normal(dim).astype(np.float32), text, id=f"t-{i}",
                       metadata={"speaker": "ana" if i % 2 == 0 else "ben"})


def test_hybridTextOnlyCue_findsTheEpisodeWhoseContentMatches(server, space_name):
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8)
        with client.stream(space_name) as stream:
            _observe_topics(stream, np.random.default_rng(3))
            hits = stream.recall(text="lemon cake recipe", k=3, mode="hybrid")
            assert hits.memories[0].episode.id == "t-1"
        unary = client.recall(space_name, text="volcano sunrise", k=3, mode=pb.RECALL_MODE_HYBRID)
        assert unary.memories[0].episode.id == "t-5"
        with pytest.raises(ValueError, match="'fuzzy'"):
            client.recall(space_name, text="x", mode="fuzzy")


def test_filter_returnsKHitsWithMatchingMetadata(server, space_name):
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((40, 8)).astype(np.float32)
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8)
        with client.stream(space_name) as stream:
            for i, v in enumerate(vectors):
                stream.observe(v, f"note {i}", id=f"f-{i}", metadata={"speaker": "ana" if i % 4 == 0 else "ben"})
            # The cue is a "ben" episode: without the filter it would come first.
            hits = stream.recall(vectors[1], k=5, mode="similarity", filter={"metadata": {"speaker": "ana"}})
        assert len(hits.memories) == 5
        assert all(m.episode.metadata["speaker"] == "ana" for m in hits.memories)
        unary = client.recall(space_name, vectors[1], k=10, filter=engram.recall_filter({"speaker": "ana"}))
        assert len(unary.memories) == 10  # exactly the ten "ana" episodes
        assert {m.episode.id for m in unary.memories} == {f"f-{i}" for i in range(0, 40, 4)}


def test_sessionFilter_returnsOnlyThatStreamsEpisodes_inEveryMode(server, space_name):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((20, 8)).astype(np.float32)
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8)
        with client.stream(space_name) as first, client.stream(space_name) as second:
            for i, v in enumerate(vectors):
                (first if i % 2 == 0 else second).observe(v, f"note {i}", id=f"s-{i}")
            assert first.close(30) and second.close(30)
            session = first.stats().session_id
        assert session
        client.remember(space_name, [engram.episode(vectors[1], "unary note", id="u-1")])
        for mode in ("similarity", "hybrid", "associative"):
            # The cue is one of the second stream's episodes: unfiltered, it would come first.
            hits = client.recall(space_name, vectors[1], k=5, text="note", mode=mode,
                                 filter=engram.recall_filter(session_id=session))
            assert len(hits.memories) == 5, mode
            assert all(int(m.episode.id[2:]) % 2 == 0 for m in hits.memories), mode
            assert all(m.session_id == session for m in hits.memories), mode


def test_associative_returnsMemoriesWithAnExplanation(server, space_name):
    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8, half_life_seconds=86400)
        assert client.get_space(space_name).half_life_seconds == 86400
        with client.stream(space_name) as stream:
            _observe_topics(stream, np.random.default_rng(5))
            hits = stream.recall(text="train to Porto", k=3, mode="associative")
        assert hits.memories and hits.memories[0].episode.id == "t-2"
        for m in hits.memories:
            assert m.HasField("explanation") and m.explanation.activation > 0
        assert hits.memories[0].explanation.seed_rank == 1


def test_stream_consolidatedThrough_advancesAndIsReported(server, space_name):
    seen = []

    class Listener(engram.StreamListener):
        def on_consolidated(self, through):
            seen.append(through)

    with engram.EngramClient(server.target) as client:
        client.create_space(space_name, 8)
        rng = np.random.default_rng(6)
        stream = client.stream(space_name, listener=Listener())
        try:
            for i in range(50):
                stream.observe(rng.standard_normal(8).astype(np.float32), f"fact {i}", id=f"c-{i}")
            deadline = time.monotonic() + 30
            while stream.stats().consolidated_through < 49 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert stream.stats().consolidated_through == 49
            assert seen and seen[-1] == 49 and seen == sorted(seen)
        finally:
            stream.close(30)


def test_asyncClient_createsASpaceWithAnEmbedderArgument(server, space_name):
    import asyncio

    async def run():
        async with engram.AsyncEngramClient(server.target) as client:
            with pytest.raises(engram.InvalidArgument) as e:
                await client.create_space(space_name, embedder="no-such-embedder")
            assert "no-such-embedder" in e.value.message
            space = await client.create_space(space_name, 8, "dot", half_life_seconds=60)
            assert space.half_life_seconds == 60 and space.embedder == ""

    asyncio.run(run())


SENTENCES = ["Ana adopted a grey kitten named Pixel.", "The bakery on Rua Augusta sells custard tarts.",
             "Ben is training for the Lisbon marathon in October.", "The office printer jams on glossy paper.",
             "Carla's flight to Tokyo was delayed by six hours.", "We planted tomatoes and basil in the garden.",
             "The new phone has a much better camera.", "Grandpa tells stories about sailing to Brazil.",
             "The team shipped the billing feature on Tuesday.", "It snowed in the mountains last weekend."]


def test_minilmEmbedder_textOnlyEpisodesAndCue(server, space_name):
    with engram.EngramClient(server.target) as client:
        try:
            space = client.create_space(space_name, embedder="all-minilm-l6-v2")
        except engram.InvalidArgument as e:
            pytest.skip(f"the server has no MiniLM embedder: {e.message}")
        assert space.dimension == 384 and space.embedder == "all-minilm-l6-v2"
        with client.stream(space_name) as stream:
            for i, s in enumerate(SENTENCES):
                stream.observe(content=s, id=f"s-{i}")
            assert stream.close(60)
        # Text-only episodes are embedded after the ack; wait until all are indexed.
        deadline = time.monotonic() + 60
        while client.get_space(space_name).indexed_count < len(SENTENCES) and time.monotonic() < deadline:
            time.sleep(0.1)
        hits = client.recall(space_name, text="someone got a new pet cat", k=3, mode="similarity")
        assert hits.memories[0].episode.id == "s-0"
        hybrid = client.recall(space_name, text="running a race", k=3, mode="hybrid")
        assert hybrid.memories[0].episode.id == "s-2"
