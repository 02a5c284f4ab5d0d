#!/usr/bin/env python3
"""Calibration beyond one machine: shards of an activation tensor observed on Dask workers, the observers
tree-reduced with ``merge`` on the cluster, and the result compared with one process over all the data.

Each worker loads its shard (here: generated from (seed, shard index), standing in for reading files),
streams it in batches into one ``sq.Observer`` per configuration and a ``sq.HessianObserver``, and returns
their states as bytes (``to_bytes``: versioned, portable). Merges run on the cluster, pairwise, so the
reduction is ceil(log2(shards)) levels deep and no process ever holds more than two states per observer.
The client only receives the final state.

Exactness: the histogram observers' histograms depend only on the data, not on batching or sharding, so
their parameters are bit-identical to one process's. Hessian sums are float64 additions of exact
products: bit-identical when the additions are exact (the activations here are on a 2^-6 grid, as
dequantized int8 activations are), otherwise equal up to float64 rounding (shown for unrounded data).

Run (needs `pip install "dask[distributed]"`):
    .venv/bin/python examples/dask_calibrate.py                        # a LocalCluster of 2 processes
    .venv/bin/python examples/dask_calibrate.py --scheduler tcp://HOST:8786   # an existing cluster
Exit status 0 when every check holds, 1 otherwise.
"""
import argparse
import sys

import numpy as np

import swiftquant as sq

SEED = 13
NUM_SHARDS = 5          # odd, so the pairwise reduction carries a leftover at two levels: 5 -> 3 -> 2 -> 1
CHANNELS = 32
BATCHES_PER_SHARD = 3
TIMEOUT = 120           # seconds for any one wait on the cluster: a lost worker is an error, not a hang

# Observer configurations: per tensor and per channel (axis 1), the histogram methods included.
# moving_average is left out on purpose: by definition it depends on batch order (it merges as a weighted
# average, not exactly).
CONFIGS = {
    "minmax": dict(method="minmax", dtype="int8"),
    "percentile": dict(method="percentile", dtype="int8", symmetric=True, percentile=99.9),
    "entropy": dict(method="entropy", dtype="int8", symmetric=True),
    "entropy_ort": dict(method="entropy_ort", dtype="uint8"),
    "minmax/channel": dict(method="minmax", dtype="int8", symmetric=True, axis=1),
    "percentile/channel": dict(method="percentile", dtype="uint8", axis=1, percentile=99.99),
    "entropy/channel": dict(method="entropy", dtype="int8", symmetric=True, axis=1),
    "mse/channel": dict(method="mse", dtype="int8", axis=1),
}
HESSIAN = "hessian"                  # activations on a 2^-6 grid: every float64 addition is exact
HESSIAN_FLOAT = "hessian (float)"    # the unrounded activations: equal up to float64 rounding


def load_shard(i):
    """Shard i of the activations, [rows, CHANNELS] float32; shards have different sizes.

    Heavy-tailed (Student t, 3 degrees of freedom), a different scale per channel, every fourth channel
    ReLU'd: the kind of data where percentile and entropy ranges differ from min/max."""
    rng = np.random.default_rng([SEED, i])
    rows = 2000 + 700 * i
    x = rng.standard_t(3, size=(rows, CHANNELS)) * np.geomspace(0.05, 4.0, CHANNELS)
    x[:, ::4] = np.maximum(x[:, ::4], 0.0)
    return x.astype(np.float32)


def on_grid(x):
    """x rounded to multiples of 2^-6. Products are then multiples of 2^-12 and every partial sum of the
    Hessian stays far below 2^53 of them, so float64 adds them exactly, in any order."""
    return (np.round(x * 64) / 64).astype(np.float32)


def observe_shard(i):
    """Runs on a worker: every observer over shard i, streamed in batches; returns {name: state bytes}."""
    x = load_shard(i)
    observers = {name: sq.Observer(**config) for name, config in CONFIGS.items()}
    hessian, hessian_float = sq.HessianObserver(CHANNELS), sq.HessianObserver(CHANNELS)
    for batch in np.array_split(x, BATCHES_PER_SHARD):
        for ob in observers.values():
            ob.update(batch)
        hessian.update(on_grid(batch))
        hessian_float.update(batch)
    states = {name: ob.to_bytes() for name, ob in observers.items()}
    states[HESSIAN] = hessian.to_bytes()
    states[HESSIAN_FLOAT] = hessian_float.to_bytes()
    return states


def _restore(name, data):
    return (sq.HessianObserver if name in (HESSIAN, HESSIAN_FLOAT) else sq.Observer).from_bytes(data)


def merge_states(a, b):
    """Runs on a worker: two shard states merged observer by observer (exact; b's data into a's)."""
    return {name: _restore(name, a[name]).merge(_restore(name, b[name])).to_bytes() for name in a}


def reduction_levels(n):
    """The number of states at each level of the pairwise reduction: 5 -> [5, 3, 2, 1]."""
    levels = [n]
    while levels[-1] > 1:
        levels.append((levels[-1] + 1) // 2)
    return levels


def tree_reduce(client, futures):
    """Pairwise merges on the cluster, level by level; an odd one out moves up a level unchanged.
    Returns the future of the root (merges start as soon as both inputs exist)."""
    level = list(futures)
    while len(level) > 1:
        merged = [client.submit(merge_states, level[k], level[k + 1]) for k in range(0, len(level) - 1, 2)]
        level = merged + level[len(merged) * 2:]
    return level[0]


def calibrate_on_cluster(client, num_shards=NUM_SHARDS, timeout=TIMEOUT):
    """{name: observer}: every shard observed on a worker, tree-reduced there, restored on the client."""
    shards = [client.submit(observe_shard, i) for i in range(num_shards)]
    states = tree_reduce(client, shards).result(timeout=timeout)
    return {name: _restore(name, data) for name, data in states.items()}


def calibrate_in_one_process(num_shards=NUM_SHARDS):
    """{name: observer}: the same observers fed all shards' rows as one batch, in this process."""
    x = np.concatenate([load_shard(i) for i in range(num_shards)])
    observers = {name: sq.Observer(**config).update(x) for name, config in CONFIGS.items()}
    observers[HESSIAN] = sq.HessianObserver(CHANNELS).update(on_grid(x))
    observers[HESSIAN_FLOAT] = sq.HessianObserver(CHANNELS).update(x)
    return observers


def hessian_rounding_bound(num_shards=NUM_SHARDS):
    """A bound on |S_cluster - S_one| for the unrounded data. The products x_i x_j of float32 values are
    exact in float64; summing n of them in any order errs by at most gamma_(n-1) sum|x_i x_j|, with
    gamma_m = m u / (1 - m u), u = 2^-53 (Higham, Accuracy and Stability, 4.2); two orders differ by at
    most twice that."""
    x = np.concatenate([load_shard(i) for i in range(num_shards)]).astype(np.float64)
    mu = (x.shape[0] - 1) * 2.0 ** -53
    return 2 * mu / (1 - mu) * (np.abs(x).T @ np.abs(x))


def compare(cluster, single, num_shards=NUM_SHARDS):
    """Lines describing each check and whether it holds: [(ok, text)]."""
    checks = []
    for name in CONFIGS:
        a, b = cluster[name].qparams(), single[name].qparams()
        same = (np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point)
                and a.scale.dtype == b.scale.dtype and a.zero_point.dtype == b.zero_point.dtype
                and all(np.array_equal(r, s) for r, s in zip(cluster[name].range(), single[name].range())))
        scale = np.ravel(a.scale)
        shown = (f"scale {scale[0]:.6g}" if scale.size == 1
                 else f"{scale.size} scales {scale.min():.4g}..{scale.max():.4g}")
        checks.append((same, f"{name:20s} {shown:32s} {'identical' if same else 'DIFFERENT'} scales, zero "
                             f"points and ranges ({cluster[name].num_values} values)"))
    same = (cluster[HESSIAN].to_bytes() == single[HESSIAN].to_bytes())
    shown = f"{cluster[HESSIAN].count} rows, {CHANNELS}x{CHANNELS} sums"
    checks.append((same, f"{HESSIAN:20s} {shown:32s} {'identical' if same else 'DIFFERENT'} bytes (to_bytes: "
                         f"sums and count)"))
    a, b = cluster[HESSIAN_FLOAT].sums(), single[HESSIAN_FLOAT].sums()
    diff = np.abs(a - b)
    bound = hessian_rounding_bound(num_shards)
    ok = bool(np.all(diff <= bound)) and cluster[HESSIAN_FLOAT].count == single[HESSIAN_FLOAT].count
    rel = float(np.max(diff / np.sqrt(np.outer(np.diag(b), np.diag(b)))))
    shown = f"max |dS_ij|/sqrt(S_ii S_jj) {rel:.0e}"
    checks.append((ok, f"{HESSIAN_FLOAT:20s} {shown:32s} {'within' if ok else 'BEYOND'} the float64 rounding "
                       f"bound 2 gamma_(n-1) sum|x_i x_j|"))
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a LocalCluster)")
    args = parser.parse_args(argv)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        sys.exit('dask_calibrate.py needs Dask: pip install "dask[distributed]"')

    cluster = None
    try:
        if args.scheduler:
            client = Client(args.scheduler, timeout=TIMEOUT)
        else:
            # Processes, not threads: each worker loads its own copy of the library, as on separate machines.
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster, timeout=TIMEOUT)
        with client:
            workers = len(client.scheduler_info()["workers"])
            print(f"Dask cluster: {workers} workers at {client.scheduler.address}; "
                  f"{NUM_SHARDS} shards of [rows, {CHANNELS}] float32, {BATCHES_PER_SHARD} batches each")
            merged = calibrate_on_cluster(client)
    finally:
        if cluster is not None:
            cluster.close(timeout=TIMEOUT)
    single = calibrate_in_one_process()
    levels = " -> ".join(map(str, reduction_levels(NUM_SHARDS)))
    print(f"tree-reduced on the cluster ({levels}) vs one process over all rows:")
    checks = compare(merged, single)
    for ok, text in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    failed = sum(not ok for ok, _ in checks)
    print("all checks hold" if not failed else f"{failed} of {len(checks)} checks FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
