"""Unary calls (spaces, remember, recall, forget) and stream factories, sync and asyncio.

The service stub is written by hand on ``grpc.Channel.unary_unary`` / ``stream_stream``; failures
raise the typed exceptions of ``engram.errors`` with the server's message (``Overloaded`` carries
the ``retry-after-ms`` trailer as ``retry_after`` seconds).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import grpc

from engram import _wire
from engram.errors import from_rpc_error
from engram.stream import AsyncStream, Stream, StreamListener, StreamOptions, _Background, recall_filter
from engram.v1 import engram_pb2 as pb

_SERVICE = "/engram.v1.MemoryService/"
_UNARY = {
    "CreateSpace": (pb.CreateSpaceRequest, pb.Space),
    "GetSpace": (pb.GetSpaceRequest, pb.Space),
    "ListSpaces": (pb.ListSpacesRequest, pb.ListSpacesResponse),
    "DeleteSpace": (pb.DeleteSpaceRequest, pb.DeleteSpaceResponse),
    "Remember": (pb.RememberRequest, pb.RememberResponse),
    "Recall": (pb.RecallRequest, pb.RecallResponse),
    "Forget": (pb.ForgetRequest, pb.ForgetResponse),
}

METRICS = {"cosine": pb.METRIC_COSINE, "dot": pb.METRIC_DOT, "l2": pb.METRIC_L2}

# Recall answers with embeddings can be large; the server limits what it reads, not what we do.
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", -1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.enable_retries", 0),
]


def episode(embedding=None, content: str = "", *, id: str = "", metadata: Mapping[str, str] | None = None,
            observed_at=None, confidence: float | None = None) -> pb.Episode:
    """Builds an Episode message from an embedding (numpy array or list) and its fields."""
    if isinstance(embedding, pb.Episode):
        return embedding
    return pb.Episode.FromString(_wire.encode_episode(id, embedding, content, metadata, observed_at, confidence))


def _metric(metric: Any) -> int:
    if isinstance(metric, str):
        try:
            return METRICS[metric.lower()]
        except KeyError:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}") from None
    return int(metric)


def _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                    filter=None) -> pb.RecallRequest:
    req = pb.RecallRequest(memory_space_id=space_id, k=k, text=text or "", min_score=min_score or 0.0,
                           mode=mode or 0, include_embeddings=include_embeddings)
    if embedding is not None:
        req.embedding.extend(embedding.tolist() if hasattr(embedding, "tolist") else list(embedding))
    if filter is not None:
        req.filter.CopyFrom(filter if isinstance(filter, pb.RecallFilter) else recall_filter(**filter))
    return req


class _Methods:
    def __init__(self, channel):
        self._m = {
            name: channel.unary_unary(_SERVICE + name, request_serializer=req.SerializeToString,
                                      response_deserializer=resp.FromString)
            for name, (req, resp) in _UNARY.items()
        }


class EngramClient:
    """A synchronous client. ``EngramClient("localhost:50051")``; close it (or use ``with``).

    ``timeout`` is each unary call's deadline in seconds; ``metadata`` is sent with every call.
    """

    def __init__(self, target: str, *, timeout: float = 30.0, metadata: Sequence[tuple[str, str]] | None = None,
                 channel_options: Iterable[tuple[str, Any]] = ()):
        self.target = target
        self.timeout = timeout
        self.metadata = tuple(metadata or ())
        self._options = CHANNEL_OPTIONS + list(channel_options)
        self._channel = grpc.insecure_channel(target, options=self._options)
        self._methods = _Methods(self._channel)._m
        self._background: _Background | None = None

    def _call(self, name: str, request):
        try:
            return self._methods[name](request, timeout=self.timeout, metadata=self.metadata or None)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def create_space(self, space_id: str, dimension: int, metric: Any = "cosine") -> pb.Space:
        return self._call("CreateSpace", pb.CreateSpaceRequest(memory_space_id=space_id, dimension=dimension,
                                                               metric=_metric(metric)))

    def get_space(self, space_id: str) -> pb.Space:
        return self._call("GetSpace", pb.GetSpaceRequest(memory_space_id=space_id))

    def list_spaces(self) -> list[pb.Space]:
        return list(self._call("ListSpaces", pb.ListSpacesRequest()).spaces)

    def delete_space(self, space_id: str) -> None:
        self._call("DeleteSpace", pb.DeleteSpaceRequest(memory_space_id=space_id))

    def remember(self, space_id: str, episodes: Iterable[pb.Episode] | pb.Episode) -> pb.RememberResponse:
        """Stores one episode or a batch (build them with ``engram.episode``); ids are returned."""
        if isinstance(episodes, pb.Episode):
            episodes = [episodes]
        return self._call("Remember", pb.RememberRequest(memory_space_id=space_id, episodes=list(episodes)))

    def recall(self, space_id: str, embedding=None, k: int = 10, *, text: str = "", min_score: float = 0.0,
               mode: int = 0, include_embeddings: bool = False, filter=None) -> pb.RecallResponse:
        return self._call("Recall", _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                                                filter))

    def forget(self, space_id: str, ids: Iterable[str]) -> int:
        return self._call("Forget", pb.ForgetRequest(memory_space_id=space_id, ids=list(ids))).forgotten

    def stream(self, space_id: str, options: StreamOptions | None = None,
               listener: StreamListener | None = None, **option_overrides) -> Stream:
        """Opens an observe-and-recall stream on ``space_id``; its connection runs on a background
        thread. Options may be given as a ``StreamOptions`` or as keywords (``buffer_size=...``)."""
        if self._background is None:
            self._background = _Background()
        opts = options or StreamOptions(**option_overrides)
        target, chan_opts = self.target, self._options
        return Stream(self._background, lambda: grpc.aio.insecure_channel(target, options=chan_opts), space_id,
                      opts, listener, self.metadata or None)

    def close(self) -> None:
        if self._background is not None:
            self._background.close()
            self._background = None
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncEngramClient:
    """The asyncio client (``grpc.aio``); create and use it inside a running event loop."""

    def __init__(self, target: str, *, timeout: float = 30.0, metadata: Sequence[tuple[str, str]] | None = None,
                 channel_options: Iterable[tuple[str, Any]] = ()):
        self.target = target
        self.timeout = timeout
        self.metadata = tuple(metadata or ())
        self._options = CHANNEL_OPTIONS + list(channel_options)
        self._channel = grpc.aio.insecure_channel(target, options=self._options)
        self._methods = _Methods(self._channel)._m

    async def _call(self, name: str, request):
        try:
            return await self._methods[name](request, timeout=self.timeout, metadata=self.metadata or None)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    async def create_space(self, space_id: str, dimension: int, metric: Any = "cosine") -> pb.Space:
        return await self._call("CreateSpace", pb.CreateSpaceRequest(memory_space_id=space_id, dimension=dimension,
                                                                     metric=_metric(metric)))

    async def get_space(self, space_id: str) -> pb.Space:
        return await self._call("GetSpace", pb.GetSpaceRequest(memory_space_id=space_id))

    async def list_spaces(self) -> list[pb.Space]:
        return list((await self._call("ListSpaces", pb.ListSpacesRequest())).spaces)

    async def delete_space(self, space_id: str) -> None:
        await self._call("DeleteSpace", pb.DeleteSpaceRequest(memory_space_id=space_id))

    async def remember(self, space_id: str, episodes) -> pb.RememberResponse:
        if isinstance(episodes, pb.Episode):
            episodes = [episodes]
        return await self._call("Remember", pb.RememberRequest(memory_space_id=space_id, episodes=list(episodes)))

    async def recall(self, space_id: str, embedding=None, k: int = 10, *, text: str = "", min_score: float = 0.0,
                     mode: int = 0, include_embeddings: bool = False, filter=None) -> pb.RecallResponse:
        return await self._call("Recall",
                                _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                                                filter))

    async def forget(self, space_id: str, ids: Iterable[str]) -> int:
        return (await self._call("Forget", pb.ForgetRequest(memory_space_id=space_id, ids=list(ids)))).forgotten

    def stream(self, space_id: str, options: StreamOptions | None = None,
               listener: StreamListener | None = None, **option_overrides) -> AsyncStream:
        """Opens a stream on this event loop (its own channel, so unary calls do not queue behind it)."""
        opts = options or StreamOptions(**option_overrides)
        target, chan_opts = self.target, self._options
        return AsyncStream(lambda: grpc.aio.insecure_channel(target, options=chan_opts), space_id, opts, listener,
                           self.metadata or None)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
