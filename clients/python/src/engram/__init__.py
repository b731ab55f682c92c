"""Python SDK for the Engram memory server.

    from engram import EngramClient
    with EngramClient("localhost:50051") as client:
        client.create_space("agent-1", 384)
        with client.stream("agent-1") as stream:
            stream.observe(embedding, "met Ana at the station")   # buffered until acknowledged
            hits = stream.recall(cue, k=5)                        # reads its own writes

        # The server embeds text itself; recall fuses vectors and BM25 (or spreads, "associative"):
        client.create_space("notes", embedder="all-minilm-l6-v2")
        with client.stream("notes") as stream:
            stream.observe(content="Ana moved to Lisbon", metadata={"speaker": "Ana"})
            hits = stream.recall(text="where does Ana live?", mode="hybrid", filter={"metadata": {"speaker": "Ana"}})

``AsyncEngramClient`` is the same on ``asyncio``. Message classes: ``engram.v1.engram_pb2`` (as
``engram.pb``), generated from engram.proto when the package is built.
"""

from engram.v1 import engram_pb2 as pb
from engram.client import AsyncEngramClient, EngramClient, episode
from engram.stream import RECALL_MODES, recall_filter, recall_mode
from engram.errors import (
    AlreadyExists,
    BufferFull,
    DeadlineExceeded,
    EngramError,
    EpisodeTooLarge,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Overloaded,
    PermissionDenied,
    StreamClosed,
    StreamFailed,
    Unavailable,
)
from engram.stream import AsyncStream, Rejected, Stream, StreamListener, StreamOptions, StreamStats

__all__ = [
    "AlreadyExists", "AsyncEngramClient", "AsyncStream", "BufferFull", "DeadlineExceeded", "EngramClient",
    "EngramError", "EpisodeTooLarge", "FailedPrecondition", "InvalidArgument", "NotFound", "Overloaded",
    "PermissionDenied", "Rejected", "Stream", "StreamClosed", "StreamFailed", "StreamListener", "StreamOptions",
    "StreamStats", "Unavailable", "RECALL_MODES", "episode", "pb", "recall_filter", "recall_mode",
]
