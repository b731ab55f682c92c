#!/usr/bin/env python3
"""hnswlib on the vectors `bench index` writes, measured like the Java candidates.

Reads base.fvecs, query.fvecs (the measured queries first, then the warm-up queries) and
groundtruth.ivecs (exact top-100 per measured query) from --dir, builds an inner-product index
with the same M and efConstruction with 1 and then 2 threads (a fresh index each time), runs the
warm-up queries, then the measured queries one at a time on one thread at ef 64 and 128, and prints
one line in IndexBench's RESULT layout:

  RESULT|name|dim|n|build 1t vec/s|build 2t vec/s|64|p50 us|p99 us|recall|128|p50|p99|recall|MiB|kernels

Latency is per knn_query call (time.perf_counter_ns around it), so it includes the Python call and
NumPy conversion; the fixed part of that is printed on stderr ("call overhead", a query on a
one-element index) so readers can subtract it. Asserts nothing.

hnswlib is not a project dependency: build it from its v0.8.0 tag into a venv outside the project
(see docs/benchmarks.md) and pass that venv's python to `bench index --hnswlib-python`.
"""

import argparse
import importlib.metadata
import os
import resource
import sys
import time

import hnswlib
import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        return np.zeros((0, 0), dtype=dtype)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise SystemExit(f"{path}: rows of different dimensions")
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def percentile(sorted_values, p):
    # HdrHistogram's getValueAtPercentile: the smallest value with at least p % at or below it.
    index = max(0, int(np.ceil(p / 100.0 * len(sorted_values))) - 1)
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--efc", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--efs", default="64,128")
    args = parser.parse_args()

    base = read_vecs(os.path.join(args.dir, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(args.dir, "query.fvecs"), np.float32)
    truth = read_vecs(os.path.join(args.dir, "groundtruth.ivecs"), np.int32)
    n, dim = base.shape
    measured = truth.shape[0]
    warmup = queries[measured:]
    queries = queries[:measured]
    k = args.k

    fields = ["RESULT", f"hnswlib {importlib.metadata.version('hnswlib')}", str(dim), str(n)]
    index = None
    for threads in [int(t) for t in args.threads.split(",")]:
        index = None
        fresh = hnswlib.Index(space="ip", dim=dim)
        fresh.init_index(max_elements=n, ef_construction=args.efc, M=args.m)
        start = time.perf_counter()
        cpu_start = time.process_time()
        fresh.add_items(base, np.arange(n), num_threads=threads)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        fields.append(f"{n / seconds:.0f}")
        print(f"hnswlib build {threads} thread(s): {seconds:.1f} s, process CPU {cpu:.1f} s "
              f"({n / cpu:.0f} vec per CPU-second)", file=sys.stderr)
        index = fresh

    index.set_num_threads(1)
    index.set_ef(64)
    for q in warmup:
        index.knn_query(q, k=k)

    for ef in [int(e) for e in args.efs.split(",")]:
        index.set_ef(ef)
        times = np.empty(measured, dtype=np.int64)
        cpu_start = time.process_time()
        hits = 0
        for i, q in enumerate(queries):
            t0 = time.perf_counter_ns()
            labels, _ = index.knn_query(q, k=k)
            times[i] = time.perf_counter_ns() - t0
            hits += len(set(labels[0].tolist()) & set(truth[i, :k].tolist()))
        cpu_us = (time.process_time() - cpu_start) * 1e6 / measured
        print(f"hnswlib ef {ef}: process CPU {cpu_us:.0f} us per query", file=sys.stderr)
        times_us = np.sort(np.maximum(1, times // 1000))
        recall = hits / (measured * k)
        fields += [str(ef), str(percentile(times_us, 50)), str(percentile(times_us, 99)), f"{recall:.3f}"]

    # Fixed per-call cost of the binding: a query on a one-element index.
    tiny = hnswlib.Index(space="ip", dim=dim)
    tiny.init_index(max_elements=1, ef_construction=args.efc, M=args.m)
    tiny.add_items(base[:1], np.arange(1))
    tiny.set_num_threads(1)
    for q in warmup[:200]:
        tiny.knn_query(q, k=1)
    overhead = []
    for q in queries:
        t0 = time.perf_counter_ns()
        tiny.knn_query(q, k=1)
        overhead.append(time.perf_counter_ns() - t0)
    print(f"hnswlib call overhead (one-element index): p50 {np.median(overhead) / 1000:.1f} us",
          file=sys.stderr)

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    fields.append(f"{rss_mib:.0f} (max RSS)")
    fields.append("C++ SIMD (pip build)")
    print("|".join(fields))


if __name__ == "__main__":
    main()
