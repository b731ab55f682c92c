"""Python SDK for the Engram memory server.

    from engram import EngramClient
    with EngramClient("localhost:50051") as client:
        client.create_space("agent-1", 384)
        with client.stream("agent-1") as stream:
            stream.observe(embedding, "met Ana at the station")   # buffered until acknowledged
            hits = stream.recall(cue, k=5)                        # reads its own writes

``AsyncEngramClient`` is the same on ``asyncio``. Message classes: ``engram.v1.engram_pb2`` (as
``engram.pb``), generated from engram.proto when the package is built.
"""

from engram.v1 import engram_pb2 as pb
from engram.client import AsyncEngramClient, EngramClient, episode
from engram.stream import recall_filter
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
    "StreamStats", "Unavailable", "episode", "pb", "recall_filter",
]
