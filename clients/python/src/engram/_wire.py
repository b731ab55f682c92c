"""Hand encoding of the few protobuf frames on the hot path.

Episodes are serialized once, when observed, and kept as bytes until acknowledged; a batch is
built by concatenating them under the StreamRequest envelope, which makes its exact size known
before it is sent (to fit the server's max_message_bytes) and makes a resend cost nothing.
Protobuf parsers accept fields in any order and merge concatenated fields, so
``Episode(id, content, ...).SerializeToString() + packed embedding`` is a valid Episode.
"""

from __future__ import annotations

import datetime as _dt
import struct
from typing import Any, Iterable, Mapping

from engram.v1 import engram_pb2 as pb

_TAG_SPACE = b"\x0a"  # StreamRequest.memory_space_id = 1, length-delimited
_TAG_OBSERVATION = b"\x1a"  # StreamRequest.observation = 3
_TAG_BATCH = b"\x3a"  # StreamRequest.observations = 7
_TAG_SEQUENCE = b"\x58"  # StreamRequest.sequence_number = 11, varint
_TAG_BATCH_EPISODE = b"\x0a"  # EpisodeBatch.episodes = 1
_TAG_EMBEDDING = b"\x12"  # Episode.embedding = 2, packed


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint_len(n: int) -> int:
    size = 1
    while n > 0x7F:
        n >>= 7
        size += 1
    return size


def floats(embedding: Any) -> bytes:
    """Little-endian float32 bytes of a numpy array (any shape with one axis) or a sequence."""
    if hasattr(embedding, "dtype") and hasattr(embedding, "astype"):
        a = embedding.astype("<f4", copy=False)
        if a.ndim != 1:
            a = a.reshape(-1)
        return a.tobytes()
    values = embedding if isinstance(embedding, (list, tuple)) else list(embedding)
    return struct.pack(f"<{len(values)}f", *values)


def timestamp(observed_at: Any) -> Any:
    """A Timestamp from a datetime (naive = UTC) or seconds since the epoch."""
    ts = pb.google_dot_protobuf_dot_timestamp__pb2.Timestamp()
    if isinstance(observed_at, _dt.datetime):
        if observed_at.tzinfo is None:
            observed_at = observed_at.replace(tzinfo=_dt.timezone.utc)
        ts.FromDatetime(observed_at)
    else:
        seconds = float(observed_at)
        ts.seconds = int(seconds // 1)
        ts.nanos = int(round((seconds - ts.seconds) * 1e9)) % 1_000_000_000
    return ts


def encode_episode(
    episode_id: str,
    embedding: Any = None,
    content: str = "",
    metadata: Mapping[str, str] | None = None,
    observed_at: Any = None,
    confidence: float | None = None,
) -> bytes:
    """Serialized Episode bytes; the embedding goes in as one packed float field."""
    head = pb.Episode(id=episode_id, content=content or "")
    if metadata:
        head.metadata.update(metadata)
    if observed_at is not None:
        head.observed_at.CopyFrom(timestamp(observed_at))
    if confidence is not None:
        head.confidence = confidence
    data = head.SerializeToString()
    if embedding is not None:
        vec = floats(embedding)
        if vec:
            data += _TAG_EMBEDDING + varint(len(vec)) + vec
    return data


def header(space_id: str, sequence: int) -> bytes:
    space = space_id.encode("utf-8")
    return _TAG_SPACE + varint(len(space)) + space + _TAG_SEQUENCE + varint(sequence)


def max_header_len(space_id: str) -> int:
    space = len(space_id.encode("utf-8"))
    return 1 + varint_len(space) + space + 1 + 10


def observation(space_id: str, sequence: int, episode: bytes) -> bytes:
    return header(space_id, sequence) + _TAG_OBSERVATION + varint(len(episode)) + episode


def batch_entry_len(episode: bytes) -> int:
    return 1 + varint_len(len(episode)) + len(episode)


def batch(space_id: str, sequence: int, episodes: Iterable[bytes], body_len: int) -> bytes:
    parts = [header(space_id, sequence), _TAG_BATCH, varint(body_len)]
    for e in episodes:
        parts.append(_TAG_BATCH_EPISODE)
        parts.append(varint(len(e)))
        parts.append(e)
    return b"".join(parts)


def message_len(space_id: str, body_len: int) -> int:
    """Upper bound of a StreamRequest's size holding a batch body of ``body_len`` bytes."""
    return max_header_len(space_id) + 1 + varint_len(body_len) + body_len
