"""Observations/s accepted through the Python SDK's stream, and ack latency percentiles.

    python clients/python/bench/stream_load.py --target host:port [--count 100000] [--dim 384]
        [--space NAME] [--warmup 5000] [--json FILE] [--async]

One stream, batched (the SDK's defaults: up to 256 per message, 1 MiB), observing as fast as the
buffer allows. accepted/s = observations acknowledged / time from the first observe to the ack
that accepts the last one (as the Java load generator counts: acceptance, not indexing; close()
then waits for the server to drain its index queue, reported apart as close_s). Ack latency =
time from observe() to the cumulative ack that covers it (sampled every 16th).
Embeddings are random unit vectors, generated before the clock starts.
"""

import argparse
import asyncio
import json
import time

import numpy as np

import engram


class AckClock(engram.StreamListener):
    def __init__(self, stride):
        self.stride = stride
        self.sent = {}
        self.latencies = []
        self.last_ack_at = 0.0
        self.through = -1
        self.observed_at = 0.0
        self.closed_at = 0.0

    def on_acknowledged(self, through, indexed):
        # Acks also arrive when only indexed_through moved (many of them while close() waits for
        # the index queue to drain): only an ack that accepts more marks the end of acceptance.
        if through <= self.through:
            return
        now = time.perf_counter()
        self.last_ack_at = now
        for t in range(self.through + 1, through + 1):
            at = self.sent.pop(t, None)
            if at is not None:
                self.latencies.append(now - at)
        self.through = max(self.through, through)


def percentile(values, p):
    return float(np.percentile(np.array(values) * 1000.0, p)) if values else float("nan")


def vectors(count, dim):
    v = np.random.default_rng(42).standard_normal((count, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def run_sync(args, data):
    clock = AckClock(16)
    with engram.EngramClient(args.target) as client:
        try:
            client.create_space(args.space, args.dim)
        except engram.AlreadyExists:
            pass
        with client.stream(args.space, listener=clock) as stream:
            for v in data[: args.warmup]:
                stream.observe(v)
            while stream.stats().buffered:
                time.sleep(0.01)
            clock.latencies.clear()
            start = time.perf_counter()
            for v in data[args.warmup:]:
                ticket = stream.observe(v)
                if ticket % clock.stride == 0:
                    clock.sent[ticket] = time.perf_counter()
            clock.observed_at = time.perf_counter()
            assert stream.close(300)
            clock.closed_at = time.perf_counter()
            stats = stream.stats()
    return start, clock, stats


async def run_async(args, data):
    clock = AckClock(16)
    async with engram.AsyncEngramClient(args.target) as client:
        try:
            await client.create_space(args.space, args.dim)
        except engram.AlreadyExists:
            pass
        stream = client.stream(args.space, listener=clock)
        for v in data[: args.warmup]:
            await stream.observe(v)
        while stream.stats().buffered:
            await asyncio.sleep(0.01)
        clock.latencies.clear()
        start = time.perf_counter()
        for v in data[args.warmup:]:
            ticket = await stream.observe(v)
            if ticket % clock.stride == 0:
                clock.sent[ticket] = time.perf_counter()
        clock.observed_at = time.perf_counter()
        assert await stream.close(300)
        clock.closed_at = time.perf_counter()
        return start, clock, stream.stats()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="localhost:50051")
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--warmup", type=int, default=5_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--space", default="py-bench")
    p.add_argument("--json")
    p.add_argument("--async", dest="use_async", action="store_true")
    args = p.parse_args()
    data = vectors(args.count + args.warmup, args.dim)
    if args.use_async:
        start, clock, stats = asyncio.run(run_async(args, data))
    else:
        start, clock, stats = run_sync(args, data)
    elapsed = clock.last_ack_at - start
    result = {
        "sdk": "python-async" if args.use_async else "python-sync",
        "dim": args.dim,
        "observations": args.count,
        "accepted_per_s": round(args.count / elapsed),
        "ack_p50_ms": round(percentile(clock.latencies, 50), 2),
        "ack_p99_ms": round(percentile(clock.latencies, 99), 2),
        "observe_s": round(clock.observed_at - start, 2),
        "accepted_s": round(elapsed, 2),
        "close_s": round(clock.closed_at - clock.observed_at, 2),
        "resent": stats.resent,
        "overload_pauses": stats.overload_pauses,
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
