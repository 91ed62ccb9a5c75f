"""numpy's exact nearest-neighbour scan, one query at a time: the peer of bench/search.ts.

Usage: python3 search_numpy.py data.npy queries.npy truth.bin k  -> one JSON line on stdout.
"""
import json
import resource
import sys
import time

import numpy as np

data = np.load(sys.argv[1])
queries = np.load(sys.argv[2])
truth = np.fromfile(sys.argv[3], dtype=np.int32).reshape(len(queries), -1)
k = int(sys.argv[4])

started = time.perf_counter()
norms = np.einsum("ij,ij->i", data, data)
build = time.perf_counter() - started


def search(q):
    distances = norms - 2.0 * (data @ q)
    nearest = np.argpartition(distances, k)[:k]
    return nearest[np.argsort(distances[nearest])]


for q in queries[:20]:  # untimed, as the others
    search(q)
latencies = []
hits = 0
for i, q in enumerate(queries):
    t = time.perf_counter()
    found = search(q)
    latencies.append((time.perf_counter() - t) * 1000)
    hits += len(set(found.tolist()) & set(truth[i, :k].tolist()))
latencies.sort()
print(json.dumps({
    "buildSeconds": build,
    "p50Ms": latencies[len(latencies) // 2],
    "p99Ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    "recallAt10": hits / (len(queries) * k),
    "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
