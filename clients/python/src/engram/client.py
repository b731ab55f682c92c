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
from engram.stream import AsyncStream, Stream, StreamListener, StreamOptions, _Background
from engram.stream import _recall_request as _stream_recall_request
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
    "IssueToken": (pb.IssueTokenRequest, pb.IssueTokenResponse),
    "ListTokens": (pb.ListTokensRequest, pb.ListTokensResponse),
    "RevokeToken": (pb.RevokeTokenRequest, pb.RevokeTokenResponse),
}

RIGHTS = {"read": pb.TOKEN_RIGHT_READ, "write": pb.TOKEN_RIGHT_WRITE, "admin": pb.TOKEN_RIGHT_ADMIN}


def _with_token(metadata, token: str | None) -> tuple:
    """The call metadata plus ``authorization: Bearer <token>`` when a token is given."""
    md = tuple(metadata or ())
    if token is None:
        return md
    if not token or any(c.isspace() for c in token):
        raise ValueError("token must be a non-empty string without spaces (value not shown)")
    return md + (("authorization", f"Bearer {token}"),)


def _issue_request(space_id: str, rights, ttl_seconds: int, name: str) -> pb.IssueTokenRequest:
    try:
        codes = [RIGHTS[r] if isinstance(r, str) else int(r) for r in rights]
    except KeyError as e:
        raise ValueError(f"rights must be among {sorted(RIGHTS)}, got {e.args[0]!r}") from None
    return pb.IssueTokenRequest(memory_space_id=space_id, rights=codes, ttl_seconds=ttl_seconds, name=name)

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


def _read_pem(value) -> bytes | None:
    """PEM bytes from bytes, a str holding PEM, or a path (str / os.PathLike)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii")
    try:
        with open(value, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read TLS file {value!r}: {e.strerror}") from None


def _credentials(tls: bool, root_certificates, client_cert, client_key):
    """gRPC channel credentials, or None for plaintext. Setting any file turns TLS on."""
    if client_cert is not None and client_key is None or client_key is not None and client_cert is None:
        raise ValueError("client_cert and client_key go together")
    if not (tls or root_certificates is not None or client_cert is not None):
        return None
    return grpc.ssl_channel_credentials(root_certificates=_read_pem(root_certificates),
                                        private_key=_read_pem(client_key),
                                        certificate_chain=_read_pem(client_cert))


def _channel_factory(module, target: str, options, credentials):
    """A function that opens a channel of ``module`` (grpc or grpc.aio), TLS when ``credentials``."""
    if credentials is None:
        return lambda: module.insecure_channel(target, options=options)
    return lambda: module.secure_channel(target, credentials, options=options)


def _metric(metric: Any) -> int:
    if isinstance(metric, str):
        try:
            return METRICS[metric.lower()]
        except KeyError:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}") from None
    return int(metric)


def _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                    filter=None) -> pb.RecallRequest:
    req = _stream_recall_request(embedding, k, text, min_score, mode, include_embeddings, filter)
    req.memory_space_id = space_id
    return req


def _create_space_request(space_id, dimension, metric, embedder, half_life_seconds) -> pb.CreateSpaceRequest:
    return pb.CreateSpaceRequest(memory_space_id=space_id, dimension=dimension, metric=_metric(metric),
                                 embedder=embedder or "", half_life_seconds=int(half_life_seconds or 0))


class _Methods:
    def __init__(self, channel):
        self._m = {
            name: channel.unary_unary(_SERVICE + name, request_serializer=req.SerializeToString,
                                      response_deserializer=resp.FromString)
            for name, (req, resp) in _UNARY.items()
        }


class EngramClient:
    """A synchronous client. ``EngramClient("localhost:50051")``; close it (or use ``with``).

    ``timeout`` is each unary call's deadline in seconds; ``metadata`` is sent with every call;
    ``token`` (a space token, or the admin token) is sent as ``authorization: Bearer <token>``.

    TLS: ``tls=True`` trusts the system's CAs; ``root_certificates`` (a PEM path or bytes, e.g. the
    ``cert.pem`` that ``engram cert`` writes) trusts those instead and turns TLS on;
    ``client_cert`` and ``client_key`` (PEM paths or bytes) answer a server that requires client
    certificates (``--tls-client-ca``).
    """

    def __init__(self, target: str, *, timeout: float = 30.0, metadata: Sequence[tuple[str, str]] | None = None,
                 channel_options: Iterable[tuple[str, Any]] = (), token: str | None = None, tls: bool = False,
                 root_certificates=None, client_cert=None, client_key=None):
        self.target = target
        self.timeout = timeout
        self.metadata = _with_token(metadata, token)
        self._options = CHANNEL_OPTIONS + list(channel_options)
        creds = _credentials(tls, root_certificates, client_cert, client_key)
        self._new_channel = _channel_factory(grpc, target, self._options, creds)
        self._new_aio_channel = _channel_factory(grpc.aio, target, self._options, creds)
        self._channel = self._new_channel()
        self._methods = _Methods(self._channel)._m
        self._background: _Background | None = None

    def _call(self, name: str, request):
        try:
            return self._methods[name](request, timeout=self.timeout, metadata=self.metadata or None)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def create_space(self, space_id: str, dimension: int = 0, metric: Any = "cosine", *, embedder: str | None = None,
                     half_life_seconds: int = 0) -> pb.Space:
        """Creates a space. With ``embedder`` (e.g. ``"all-minilm-l6-v2"``) the server embeds its
        episodes' and cues' text, so they may carry text only; ``dimension`` 0 takes the embedder's.
        ``half_life_seconds``: an unrecalled memory's confidence halves in that time (0: no decay)."""
        return self._call("CreateSpace", _create_space_request(space_id, dimension, metric, embedder,
                                                               half_life_seconds))

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
               mode=0, include_embeddings: bool = False, filter=None) -> pb.RecallResponse:
        return self._call("Recall", _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                                                filter))

    def forget(self, space_id: str, ids: Iterable[str]) -> int:
        return self._call("Forget", pb.ForgetRequest(memory_space_id=space_id, ids=list(ids))).forgotten

    def issue_token(self, space_id: str, rights: Iterable[str] = ("read",), *, ttl_seconds: int = 0,
                    name: str = "") -> pb.IssueTokenResponse:
        """Issues a token for ``space_id`` (admin token only); the secret is in the answer, once."""
        return self._call("IssueToken", _issue_request(space_id, rights, ttl_seconds, name))

    def list_tokens(self) -> list[pb.TokenInfo]:
        return list(self._call("ListTokens", pb.ListTokensRequest()).tokens)

    def revoke_token(self, token_id: str) -> None:
        self._call("RevokeToken", pb.RevokeTokenRequest(id=token_id))

    def stream(self, space_id: str, options: StreamOptions | None = None,
               listener: StreamListener | None = None, **option_overrides) -> Stream:
        """Opens an observe-and-recall stream on ``space_id``; its connection runs on a background
        thread. Options may be given as a ``StreamOptions`` or as keywords (``buffer_size=...``)."""
        if self._background is None:
            self._background = _Background()
        opts = options or StreamOptions(**option_overrides)
        return Stream(self._background, self._new_aio_channel, space_id, opts, listener, self.metadata or None)

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
    """The asyncio client (``grpc.aio``); create and use it inside a running event loop. TLS options
    as ``EngramClient``'s."""

    def __init__(self, target: str, *, timeout: float = 30.0, metadata: Sequence[tuple[str, str]] | None = None,
                 channel_options: Iterable[tuple[str, Any]] = (), token: str | None = None, tls: bool = False,
                 root_certificates=None, client_cert=None, client_key=None):
        self.target = target
        self.timeout = timeout
        self.metadata = _with_token(metadata, token)
        self._options = CHANNEL_OPTIONS + list(channel_options)
        self._new_aio_channel = _channel_factory(grpc.aio, target, self._options,
                                                 _credentials(tls, root_certificates, client_cert, client_key))
        self._channel = self._new_aio_channel()
        self._methods = _Methods(self._channel)._m

    async def _call(self, name: str, request):
        try:
            return await self._methods[name](request, timeout=self.timeout, metadata=self.metadata or None)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    async def create_space(self, space_id: str, dimension: int = 0, metric: Any = "cosine", *,
                           embedder: str | None = None, half_life_seconds: int = 0) -> pb.Space:
        """As ``EngramClient.create_space``."""
        return await self._call("CreateSpace", _create_space_request(space_id, dimension, metric, embedder,
                                                                     half_life_seconds))

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
                     mode=0, include_embeddings: bool = False, filter=None) -> pb.RecallResponse:
        return await self._call("Recall",
                                _recall_request(space_id, embedding, k, text, min_score, mode, include_embeddings,
                                                filter))

    async def forget(self, space_id: str, ids: Iterable[str]) -> int:
        return (await self._call("Forget", pb.ForgetRequest(memory_space_id=space_id, ids=list(ids)))).forgotten

    def stream(self, space_id: str, options: StreamOptions | None = None,
               listener: StreamListener | None = None, **option_overrides) -> AsyncStream:
        """Opens a stream on this event loop (its own channel, so unary calls do not queue behind it)."""
        opts = options or StreamOptions(**option_overrides)
        return AsyncStream(self._new_aio_channel, space_id, opts, listener, self.metadata or None)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
