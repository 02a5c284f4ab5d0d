"""Calibration on a Dask distributed LocalCluster (worker processes): shards observed on the workers and
tree-reduced with merge give the parameters of one process over all the data, bit for bit, for Observers
and HessianObservers (examples/dask_calibrate.py, run here both imported and as a script).

Optional: skipped, with the reason, where dask.distributed is not installed. Every wait on the cluster has
a timeout and the cluster is closed in the fixture, so a broken worker fails the test instead of hanging it.
"""
import importlib.util
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftquant as sq
from conftest import assert_same

distributed = pytest.importorskip(
    "distributed", reason='dask.distributed is not installed (pip install "dask[distributed]", as in '
                          'requirements-dev.txt); the Dask calibration tests need it')
import dask  # noqa: E402

TIMEOUT = 60  # seconds for any one wait on the cluster
EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "dask_calibrate.py")


def _load_example():
    spec = importlib.util.spec_from_file_location("dask_calibrate", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ex = _load_example()


@pytest.fixture(scope="module")
def client():
    # The workers are spawned processes: they inherit the environment (SWIFTQUANT_LIBRARY, PYTHONPATH,
    # SWIFTQUANT_ISA), or import the installed package.
    with dask.config.set({"distributed.comm.timeouts.connect": f"{TIMEOUT}s"}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with distributed.Client(cluster, timeout=TIMEOUT) as c:
                # Tasks name the example's functions by module: the workers import it from the upload.
                c.upload_file(EXAMPLE)
                yield c
        finally:
            cluster.close(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def merged(client):
    return ex.calibrate_on_cluster(client, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def all_rows():
    return np.concatenate([ex.load_shard(i) for i in range(ex.NUM_SHARDS)])


def test_reduction_is_a_tree():
    assert ex.reduction_levels(5) == [5, 3, 2, 1]
    assert ex.reduction_levels(8) == [8, 4, 2, 1]
    assert ex.reduction_levels(1) == [1]


def test_observers_merged_on_the_cluster_equal_one_process(merged, all_rows):
    single = ex.calibrate_in_one_process()
    for name, config in ex.CONFIGS.items():
        got, want = merged[name], single[name]
        assert got.config == want.config, name
        assert got.num_values == all_rows.size, f"{name}: {got.num_values} values, expected {all_rows.size}"
        assert got.num_batches == ex.NUM_SHARDS * ex.BATCHES_PER_SHARD, name
        p, q = got.qparams(), want.qparams()
        assert_same(p.scale, q.scale, f"{name} scale", **config)
        assert_same(p.zero_point, q.zero_point, f"{name} zero_point", **config)
        for r, s, end in zip(got.range(), want.range(), ("min", "max")):
            assert_same(r, s, f"{name} range {end}", **config)
        # Not vacuous: one shard alone calibrates differently.
        alone = sq.Observer(**config).update(ex.load_shard(0)).qparams()
        assert not np.array_equal(alone.scale, q.scale), f"{name}: shard 0 alone gives the same scales"


def test_minmax_matches_its_formula(merged, all_rows):
    # int8 asymmetric per tensor: scale = (max(x.max(), 0) - min(x.min(), 0)) / 255, from NumPy in float64.
    lo, hi = min(float(all_rows.min()), 0.0), max(float(all_rows.max()), 0.0)
    p = merged["minmax"].qparams()
    assert p.scale == np.float32((hi - lo) / 255)
    assert p.zero_point == np.clip(np.round(-128 - lo / ((hi - lo) / 255)), -128, 127)
    # int8 symmetric per channel (narrow range): scale = max|x| / 127 per channel.
    amax = np.abs(all_rows).max(axis=0).astype(np.float64)
    assert_same(merged["minmax/channel"].qparams().scale, (2 * amax / 254).astype(np.float32), "per-channel scale")


def test_hessian_merged_on_the_cluster_equals_one_process(merged, all_rows):
    single = ex.calibrate_in_one_process()
    h = merged[ex.HESSIAN]
    assert h.to_bytes() == single[ex.HESSIAN].to_bytes()
    # Independently: on the grid every float64 addition is exact, so NumPy's X^T X is the same bits.
    xg = ex.on_grid(all_rows).astype(np.float64)
    assert h.count == all_rows.shape[0]
    assert_same(h.sums(), xg.T @ xg, "hessian sums")
    # Unrounded data: equal up to float64 rounding, within the bound the example prints.
    hf, sf = merged[ex.HESSIAN_FLOAT], single[ex.HESSIAN_FLOAT]
    assert hf.count == sf.count == all_rows.shape[0]
    diff = np.abs(hf.sums() - sf.sums())
    assert np.all(diff <= ex.hessian_rounding_bound()), float(diff.max())


def test_observers_travel_pickled(client):
    def observers_as_objects(i):
        """Worker: an Observer and a HessianObserver returned as objects (Dask pickles them). Nested, so
        Dask ships it by value: the workers cannot import this test module."""
        x = ex.load_shard(i)
        return (sq.Observer("percentile", dtype="int8", axis=1, percentile=99.9).update(x),
                sq.HessianObserver(ex.CHANNELS).update(ex.on_grid(x)))

    parts = [client.submit(observers_as_objects, i).result(timeout=TIMEOUT) for i in range(3)]
    ob, h = parts[0]
    for other_ob, other_h in parts[1:]:
        ob.merge(other_ob)
        h.merge(other_h)
    x = np.concatenate([ex.load_shard(i) for i in range(3)])
    want = sq.Observer("percentile", dtype="int8", axis=1, percentile=99.9).update(x).qparams()
    assert_same(ob.qparams().scale, want.scale, "percentile scale")
    assert_same(ob.qparams().zero_point, want.zero_point, "percentile zero_point")
    assert h.to_bytes() == sq.HessianObserver(ex.CHANNELS).update(ex.on_grid(x)).to_bytes()


def _run_example(*args):
    # The child inherits the environment, so it finds the library the same way this process did.
    result = subprocess.run([sys.executable, EXAMPLE, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    lines = result.stdout.splitlines()
    checks = [line for line in lines if line.startswith("  ok ") or line.startswith("  FAIL")]
    assert len(checks) == len(ex.CONFIGS) + 2 and all(c.startswith("  ok ") for c in checks), result.stdout
    assert lines[-1] == "all checks hold", result.stdout


def test_example_runs_as_written():
    _run_example()  # its own LocalCluster of 2 worker processes


def test_example_on_a_running_scheduler(client):
    _run_example("--scheduler", client.scheduler.address)
