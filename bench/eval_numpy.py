"""NumPy peer of bench/eval.ts: the same retrieval metrics on the same .npy inputs.

    python3 bench/eval_numpy.py DIR REPETITIONS

DIR holds queries.npy, references.npy (float32, rows × dims), query_labels.npy and
reference_labels.npy (int32). Ranking is by Euclidean distance; for each query, R = the number
of references with its label (PML's AccuracyCalculator with k = max R): P@1, R-precision and
MAP@R. The distances come a block of queries at a time from one matrix product
(|r|² − 2 q·r; |q|² does not change a query's order), the top max-R of each row from
argpartition, then a sort of those only, which is what a careful NumPy user writes.

Prints one JSON line: the metrics, the time of each repetition (seconds, loading excluded) and
the peak RSS of this process (MiB).
"""
import json
import resource
import sys
import time

import numpy as np

BLOCK_BYTES = 64 * 1024 * 1024  # the same 64 MB distance blocks as tripletjs


def metrics(queries, references, query_labels, reference_labels):
    counts = np.bincount(reference_labels)
    r_of_query = counts[query_labels].astype(np.float64)
    k = int(r_of_query.max())
    reference_norms = np.einsum("ij,ij->i", references, references)
    block = max(1, BLOCK_BYTES // 4 // references.shape[0])
    positions = np.arange(1, k + 1, dtype=np.float64)
    p_at_1 = r_precision = map_at_r = 0.0
    for start in range(0, queries.shape[0], block):
        q = queries[start : start + block]
        keys = reference_norms[None, :] - 2.0 * (q @ references.T)
        top = np.argpartition(keys, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        nearest = np.take_along_axis(top, order, axis=1)
        relevant = reference_labels[nearest] == query_labels[start : start + block, None]
        r = r_of_query[start : start + block]
        within_r = positions[None, :] <= r[:, None]
        hits = np.cumsum(relevant, axis=1)
        p_at_1 += relevant[:, 0].sum()
        r_precision += ((relevant & within_r).sum(axis=1) / r).sum()
        map_at_r += ((hits / positions * (relevant & within_r)).sum(axis=1) / r).sum()
    n = queries.shape[0]
    return {"precisionAt1": p_at_1 / n, "rPrecision": r_precision / n, "mapAtR": map_at_r / n}


def main():
    directory, repetitions = sys.argv[1], int(sys.argv[2])
    queries = np.load(f"{directory}/queries.npy")
    references = np.load(f"{directory}/references.npy")
    query_labels = np.load(f"{directory}/query_labels.npy").ravel().astype(np.int64)
    reference_labels = np.load(f"{directory}/reference_labels.npy").ravel().astype(np.int64)
    seconds = []
    result = None
    for _ in range(repetitions):
        started = time.perf_counter()
        result = metrics(queries, references, query_labels, reference_labels)
        seconds.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**result, "seconds": seconds, "peakRssMiB": peak, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
