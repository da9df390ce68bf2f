"""Out-of-core analysis: DFA and metastability of a run store larger than a memory cap.

Builds a synthetic run store (``record.zarr`` with ``/layers/signal`` (step, layer), float64)
of 256 layers x 200,000 steps = 410 MB, larger than the memory cap the bench sets (320 MiB
by default), without ever holding it whole: layer ``l`` is white noise (DFA exponent 0.5) when
``l`` is even and a random walk (1.5) when odd, written one block of layers at a time.

Then a fresh child process (which imports no torch) opens the store lazily with
``open_run(path, chunks={"step": -1, "layer": 4})`` and computes ``dfa(signal)`` (one
exponent per layer) and ``metastability(signal)``, with dask's threaded scheduler (1
thread by default), or with a ``dask.distributed`` cluster when ``--scheduler`` names one
(``local`` starts a LocalCluster).
The parent watches the child's resident memory and kills it if it passes the cap. The child
also checks its answers: the exponents of white and random-walk layers, the lazy DFA of 4
layers against the eager one on the loaded values, and the lazy metastability of the first
20,000 steps against the eager one.

The child runs with one BLAS thread per dask thread and ``MALLOC_MMAP_THRESHOLD_=131072``, so
that glibc hands freed chunk buffers back to the OS (its default threshold grows after the
first large free, and freed buffers then stay resident). Peak memory is the child's peak RSS
(``ru_maxrss``: the whole process, Python, numpy, dask and zarr included, about 90 MiB
before any data), so the cap is for everything.

Usage: python bench/out_of_core.py [--layers 256] [--steps 200000] [--cap-mib 320]
       [--layer-chunk 4] [--workers 1] [--scheduler local|tcp://host:8786] [--keep DIR]
Last line: ``out_of_core_peak_over_cap: X`` (goal X <= 1).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _log  # noqa: E402,I001  (bench/_log.py: tee stdout to bench/logs/)
import numpy as np

STEP_CHUNK = 20_000  # stored chunks: 20k steps x 8 layers (1.25 MiB), series-major


def build_store(path: Path, n_layers: int, n_steps: int, seed: int = 0) -> float:
    """Write the synthetic run store one block of 8 layers at a time; returns its MiB."""
    import dask.array as da
    import xarray as xr
    import zarr

    from workbench.record.store import RunStore

    store = RunStore(path)
    store.create({"config": json.dumps({"model": "synthetic"}), "synthetic": True})
    names = [f"layer{i:03d}" for i in range(n_layers)]
    template = xr.Dataset(
        {"signal": (("step", "layer"), da.zeros((n_steps, n_layers),
                                                chunks=(STEP_CHUNK, 8)))},
        coords={"step": np.arange(n_steps), "layer": names})
    template.to_zarr(store.path, group="layers", mode="w", compute=False, consolidated=False)
    arr = zarr.open_array(str(store.path / "layers" / "signal"), mode="r+")
    rng = np.random.default_rng(seed)
    for a in range(0, n_layers, 8):
        block = rng.normal(size=(n_steps, min(8, n_layers - a)))
        block[:, 1::2] = np.cumsum(block[:, 1::2], axis=0)  # odd layers: random walks
        arr[:, a:a + block.shape[1]] = block
    # the groups the committed counts refer to (open_run checks them against what is held)
    xr.Dataset({"loss": ("step", np.zeros(n_steps))}, coords={"step": np.arange(n_steps)}
               ).to_zarr(store.path, group="steps", mode="w", consolidated=False)
    xr.Dataset({"train_loss": ("epoch", [np.nan])}, coords={"epoch": [0]}
               ).to_zarr(store.path, group="epochs", mode="w", consolidated=False)
    root = zarr.open_group(str(store.path), mode="r+", use_consolidated=False)
    root.attrs.update({"committed_epochs": 1, "committed_steps": n_steps})
    zarr.consolidate_metadata(str(store.path))
    return sum(f.stat().st_size for f in store.path.rglob("*") if f.is_file()) / 2**20


def child(args) -> None:
    """Analyse the store lazily; print one JSON line with timings, checks and peak RSS."""
    import dask
    import xarray as xr

    from workbench.diagnostics import dfa, metastability
    from workbench.record.store import open_run

    client = None
    if args.scheduler:
        from dask.distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     memory_limit=f"{args.cap_mib // 2}MiB",
                                     dashboard_address=None)) \
            if args.scheduler == "local" else Client(args.scheduler)
    else:
        dask.config.set(scheduler="threads", num_workers=args.workers)
    assert "torch" not in sys.modules, "the analysis process must not import torch"
    tree = open_run(args.child, chunks={"step": -1, "layer": args.layer_chunk})
    sig = tree["layers"]["signal"]
    assert dask.is_dask_collection(sig.data)
    out = {"shape": dict(sig.sizes), "nbytes_mib": sig.nbytes / 2**20,
           "chunks_mib": sig.data.chunksize[0] * sig.data.chunksize[1] * 8 / 2**20}

    if args.only in (None, "dfa"):
        t0 = time.perf_counter()
        exp = dfa(sig).compute()
        out["dfa_s"] = time.perf_counter() - t0
        out["peak_after_dfa_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ev = exp.values
        out["dfa_white_mean"] = float(ev[0::2].mean())
        out["dfa_walk_mean"] = float(ev[1::2].mean())
        # brute-force reference on a piece that fits: eager numpy, same function
        few = sig.isel(layer=slice(0, 4))
        ref = dfa(xr.DataArray(few.values, dims=few.dims)).values
        out["dfa_max_abs_diff_vs_eager"] = float(np.abs(ev[:4] - ref).max())
    if args.only in (None, "metastability"):
        t0 = time.perf_counter()
        out["metastability"] = float(metastability(sig).compute())
        out["metastability_s"] = time.perf_counter() - t0
        # the eager reference on a piece that fits: 32 layers x 20,000 steps (all 256 layers
        # eagerly take ~200 MiB of phases and analytic signals: over the cap by themselves)
        head = sig.isel(step=slice(0, 20_000), layer=slice(0, 32))
        lazy_head = float(metastability(head).compute())
        eager_head = float(metastability(xr.DataArray(head.values, dims=head.dims)))
        out["metastability_head_abs_diff_vs_eager"] = abs(lazy_head - eager_head)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if client is not None:
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        out["worker_peak_rss_mib"] = sorted(peaks.values())
        out["scheduler"] = args.scheduler
        client.close()
    print(json.dumps(out), flush=True)


def vm_hwm_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--cap-mib", type=int, default=320)
    ap.add_argument("--layer-chunk", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1,
                    help="dask threads (each holds one chunk's working memory)")
    ap.add_argument("--scheduler", default=None,
                    help="'local' (a LocalCluster of 2 workers) or a scheduler address")
    ap.add_argument("--only", choices=("dfa", "metastability"), default=None,
                    help="run one of the two analyses")
    ap.add_argument("--keep", default=None, help="build the store here and keep it")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    _log.start()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or tmp) / "synthetic_run"
        t0 = time.perf_counter()
        mib = build_store(path, args.layers, args.steps)
        print(f"synthetic store: {args.layers} layers x {args.steps} steps, float64: "
              f"{args.layers * args.steps * 8 / 2**20:.0f} MiB of values, {mib:.0f} MiB on "
              f"disk, written in {time.perf_counter() - t0:.1f} s; memory cap {args.cap_mib} MiB"
              f" ({'store larger than the cap' if mib > args.cap_mib else 'STORE FITS'})")
        cmd = [sys.executable, __file__, "--child", str(path), "--cap-mib", str(args.cap_mib),
               "--layer-chunk", str(args.layer_chunk), "--workers", str(args.workers)]
        if args.only:
            cmd += ["--only", args.only]
        if args.scheduler:
            cmd += ["--scheduler", args.scheduler]
        # one BLAS thread per dask thread; and glibc returns every freed block of 128 KiB or
        # more to the OS at once (its default threshold grows after the first large free,
        # after which freed chunk buffers stay resident and RSS creeps up to the data size)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "131072"}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        watched, killed = 0.0, False
        while proc.poll() is None:
            watched = max(watched, vm_hwm_mib(proc.pid))
            if watched > args.cap_mib and not args.scheduler:
                proc.kill()
                killed = True
                break
            time.sleep(0.05)
        stdout, stderr = proc.communicate()
    if killed or proc.returncode != 0:
        print(stderr[-3000:])
        print(f"analysis {'killed at the cap' if killed else 'failed'}: peak RSS seen "
              f"{watched:.0f} MiB, cap {args.cap_mib} MiB")
        print(f"out_of_core_peak_over_cap: {max(watched, args.cap_mib + 1) / args.cap_mib:.2f}")
        return 1
    res = json.loads(stdout.strip().splitlines()[-1])
    points = args.layers * args.steps
    print(f"lazy signal: {res['shape']}, {res['nbytes_mib']:.0f} MiB, dask chunks "
          f"{res['chunks_mib']:.1f} MiB ({args.layer_chunk} layers x all steps), "
          f"{args.workers} dask thread(s)")
    for name in ("dfa", "metastability"):
        if f"{name}_s" not in res:
            continue
        s = res[f"{name}_s"]
        print(f"{name}: {s:.1f} s, {points / s / 1e6:.2f} M points/s, "
              f"{res['nbytes_mib'] / s:.0f} MiB/s")
    if "dfa_s" in res:
        print(f"DFA exponent: white layers {res['dfa_white_mean']:.3f} (theory 0.5), random-walk "
              f"layers {res['dfa_walk_mean']:.3f} (theory 1.5); lazy vs eager on 4 layers: "
              f"max abs diff {res['dfa_max_abs_diff_vs_eager']:.1e}")
    if "metastability_s" in res:
        print(f"metastability {res['metastability']:.4f}; lazy vs eager on the first 20,000 "
              f"steps of 32 layers: abs diff {res['metastability_head_abs_diff_vs_eager']:.1e}")
    peak = res["peak_rss_mib"]
    if "worker_peak_rss_mib" in res:
        print(f"dask.distributed ({res['scheduler']}): worker peak RSS "
              f"{res['worker_peak_rss_mib']} MiB; client process {peak:.0f} MiB")
        peak = max([peak, *res["worker_peak_rss_mib"]])
    print(f"peak RSS of the analysing process: {res['peak_rss_mib']:.0f} MiB (after DFA: "
          f"{res.get('peak_after_dfa_mib', float('nan')):.0f} MiB; watched from "
          f"outside: {watched:.0f} MiB); cap {args.cap_mib} MiB; store {mib:.0f} MiB")
    print(f"out_of_core_peak_over_cap: {peak / args.cap_mib:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
