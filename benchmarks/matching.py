"""Probe-vs-gallery matching throughput and peak memory.

Compares, in the same run and on the same random data:

- ``chunked-topk``: :func:`gait_tf.evaluation.topk` (k nearest, never holds N×M),
- ``chunked-full``: :func:`gait_tf.evaluation.pairwise_distance` (returns the N×M matrix,
  computed block by block),
- ``gallery-identify``: :meth:`gait_tf.Gallery.identify_batch` (per-subject best distance,
  top-5; one subject per 4 gallery embeddings),
- ``plain-numpy``: the same per-part Euclidean distance written directly in numpy
  (``|x|² + |y|² − 2 x·y`` per part over the whole gallery at once, float32 copy of the
  gallery), skipped when its estimated memory exceeds ``--plain-max-gb``.

Peak memory is the peak of numpy allocations during the call (``tracemalloc``), on top of
the stored gallery and probes. Throughput is in probe×gallery comparisons per second of
wall time (``Mcmp/s``) and per CPU second (``Mcmp/cpu-s``, less sensitive to other
processes on a shared machine). ``--threads 1`` pins BLAS to one thread (threadpoolctl):
on an oversubscribed machine multi-threaded OpenBLAS spins and is many times slower.

Large galleries (``--ann-sizes``): exact search (:class:`gait_tf.search.ExactIndex`, the
reference) against the FAISS index (:class:`gait_tf.search.ann.FaissIndex`: PCA, 8-bit codes,
exact re-ranking) on *clustered* synthetic embeddings
(:class:`gait_tf.search.synthetic.ClusteredEmbeddings`: 4 sequences per subject, identity +
condition + noise; probes are new sequences of enrolled subjects). Per size: build time, index
memory, queries/s of each, recall@1 (the ANN's best subject is exact search's best subject)
and the distances' agreement. ``--estimate 10000000`` extrapolates a larger size from the
growth measured between the two largest sizes (and says so).

Usage::

    python benchmarks/matching.py --sizes 1000 10000 100000 --parts 62 --dim 256 \\
        --probes 16 --dtype float16 --json matching.json
    python benchmarks/matching.py --sizes --ann-sizes 100000 1000000 --ann-parts 16 --ann-dim 128 \\
        --estimate 10000000 --threads 1 --json benchmarks/results/matching_ann.json
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from gait_tf.evaluation import pairwise_distance, topk  # noqa: E402
from gait_tf.gallery import Gallery  # noqa: E402
from gait_tf.utils.atomic import write_json  # noqa: E402


def plain_numpy_distance(x, y):
    """Per-part Euclidean distance averaged over parts, all at once: [N, M]."""
    x = x.astype(np.float32)
    y = y.astype(np.float32)
    xx = np.einsum("npd,npd->pn", x, x)  # [P, N]
    yy = np.einsum("mpd,mpd->pm", y, y)  # [P, M]
    xy = np.matmul(x.transpose(1, 0, 2), y.transpose(1, 2, 0))  # [P, N, M]
    d = xx[:, :, None] + yy[:, None, :] - 2.0 * xy
    return np.sqrt(np.maximum(d, 0.0)).mean(axis=0)


def random_gallery(m, parts, dim, dtype, seed=0, chunk=2048):
    rng = np.random.default_rng(seed)
    out = np.empty((m, parts, dim), dtype)
    for i in range(0, m, chunk):
        out[i : i + chunk] = rng.standard_normal((min(chunk, m - i), parts, dim), dtype=np.float32)
    return out


def measure(fn, repeats):
    """(best wall seconds, CPU seconds of that run, peak extra bytes, result) over ``repeats`` runs."""
    best, cpu, peak, result = float("inf"), 0.0, 0, None
    for _ in range(repeats):
        result = None
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
        tracemalloc.stop()
        if dt < best:
            best, cpu = dt, dc
    return best, cpu, peak, result


def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ann_benchmark(args):
    """Exact vs FAISS rows at ``args.ann_sizes`` (+ extrapolated ``args.estimate``)."""
    from gait_tf.search import make_index
    from gait_tf.search.synthetic import ClusteredEmbeddings

    options = {}
    for item in args.ann_option:
        key, _, value = item.partition("=")
        options[key] = int(value)
    parts, dim = args.ann_parts, args.ann_dim
    out = []
    print(f"\nexact vs ANN: {parts} parts x {dim} dims, {args.dtype} storage, 4 sequences per subject, "
          f"{args.ann_probes} probes (new sequences of enrolled subjects), threads={args.threads}")
    head = (f"{'gallery':>10} {'method':>6} {'build s':>8} {'index MB':>9} {'storage MB':>10} {'queries/s':>10} "
            f"{'recall@1':>8}  note")
    print(head)
    print("-" * len(head))
    for m in args.ann_sizes:
        gen = ClusteredEmbeddings(m // 4, 4, parts, dim, seed=0)
        rss0 = rss_mb()
        t0 = time.perf_counter()
        gallery = gen.fill(np.empty((len(gen), parts, dim), np.dtype(args.dtype)))
        gen_s = time.perf_counter() - t0
        labels = gen.subjects(np.arange(len(gen)))
        probes, truth = gen.probes(args.ann_probes, seed=1)
        exact = make_index("exact", "euc").build(gallery, labels)
        t0 = time.perf_counter()
        ref = exact.nearest_subjects(probes, 1)
        exact_s = time.perf_counter() - t0
        ref_ids = np.array([r[0][0] for r in ref])
        ref_d = np.array([r[1][0] for r in ref])
        store_mb = gallery.nbytes / 2**20
        base = dict(gallery=m, parts=parts, dim=dim, probes=args.ann_probes, storage_mb=store_mb,
                    generate_s=gen_s)
        out.append({**base, "method": "exact", "build_s": 0.0, "index_mb": 0.0, "queries_per_s": len(probes) / exact_s,
                    "recall_at_1": 1.0, "subject_accuracy": float(np.mean(ref_ids == truth))})
        rss1 = rss_mb()
        t0 = time.perf_counter()
        ann = make_index("ann", "euc", **options).build(gallery, labels)
        build_s = time.perf_counter() - t0
        ann.nearest_subjects(probes[:4], 1)  # warm-up
        t0 = time.perf_counter()
        got = ann.nearest_subjects(probes, 1)
        ann_s = time.perf_counter() - t0
        got_ids = np.array([g[0][0] for g in got])
        got_d = np.array([g[1][0] for g in got])
        same = got_ids == ref_ids
        desc = ann.describe()
        out.append({**base, "method": "ann", "build_s": build_s, "index_mb": desc["memory_bytes"] / 2**20,
                    "rss_growth_mb": rss_mb() - rss1, "queries_per_s": len(probes) / ann_s,
                    "recall_at_1": float(np.mean(same)), "subject_accuracy": float(np.mean(got_ids == truth)),
                    "max_abs_distance_diff_when_same": float(np.abs(got_d - ref_d)[same].max()) if same.any() else None,
                    "index": desc})
        for r in out[-2:]:
            note = (f"exact finds the probe's subject {r['subject_accuracy']:.3f}" if r["method"] == "exact" else
                    (f"HNSW{desc['hnsw_m']} ef {desc['ef_search']}" if desc["structure"] == "hnsw" else
                     f"PCA{desc['vector_dims']} SQ8 flat") + f", candidates {desc['candidates']}, "
                    f"|d - exact d| <= {r['max_abs_distance_diff_when_same']:.1e}")
            print(f"{m:>10} {r['method']:>6} {r['build_s']:>8.1f} {r['index_mb']:>9.1f} {store_mb:>10.0f} "
                  f"{r['queries_per_s']:>10.2f} {r['recall_at_1']:>8.3f}  {note}", flush=True)
        print(f"{'':>10} (generated in {gen_s:.0f} s; process RSS {rss_mb():.0f} MB, {rss0:.0f} MB before the gallery)")
        del gallery, exact, ann
    measured = sorted({r["gallery"] for r in out})
    if args.estimate and len(measured) >= 2:
        lo, hi = measured[-2], measured[-1]
        for m in args.estimate:
            for method in ("exact", "ann"):
                a = next(r for r in out if r["gallery"] == lo and r["method"] == method)
                b = next(r for r in out if r["gallery"] == hi and r["method"] == method)
                est = {"gallery": m, "method": method, "estimated": True, "parts": parts, "dim": dim,
                       "basis": f"power-law growth between the measured {lo:,} and {hi:,} rows"}
                for key in ("build_s", "index_mb", "storage_mb"):
                    if a[key] > 0 and b[key] > 0:
                        k = math.log(b[key] / a[key]) / math.log(hi / lo)
                        est[key] = b[key] * (m / hi) ** k
                    else:
                        est[key] = 0.0
                k = math.log(b["queries_per_s"] / a["queries_per_s"]) / math.log(hi / lo)
                est["queries_per_s"] = b["queries_per_s"] * (m / hi) ** k
                est["recall_at_1"] = None
                out.append(est)
                print(f"{m:>10} {method:>6} {est['build_s']:>8.1f} {est['index_mb']:>9.1f} {est['storage_mb']:>10.0f} "
                      f"{est['queries_per_s']:>10.2f} {'-':>8}  ESTIMATED ({est['basis']}); recall not estimated")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000], help="gallery sizes")
    ap.add_argument("--ann-sizes", type=int, nargs="*", default=[], help="exact vs ANN at these gallery sizes")
    ap.add_argument("--ann-parts", type=int, default=16, help="parts of the ANN rows' embeddings")
    ap.add_argument("--ann-dim", type=int, default=128, help="dims per part of the ANN rows' embeddings")
    ap.add_argument("--ann-probes", type=int, default=200)
    ap.add_argument("--ann-option", action="append", default=[], metavar="KEY=VALUE",
                    help="FaissIndex option (repeatable), e.g. nprobe=64")
    ap.add_argument("--estimate", type=int, nargs="*", default=[], help="sizes to extrapolate (not measured)")
    ap.add_argument("--parts", type=int, default=62)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--probes", type=int, default=16, help="probes matched against the gallery")
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="gallery storage dtype")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--plain-max-gb", type=float, default=3.0,
                    help="skip plain numpy when its estimated peak exceeds this (GB)")
    ap.add_argument("--no-gallery", action="store_true", help="skip the Gallery.identify_batch row")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads (threadpoolctl); default: the library's default")
    ap.add_argument("--json", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)

    rows = []
    if args.ann_sizes:
        import faiss

        if args.threads:
            faiss.omp_set_num_threads(args.threads)
        ann_rows = ann_benchmark(args)
    else:
        ann_rows = []
    rng = np.random.default_rng(1)
    probes = rng.standard_normal((args.probes, args.parts, args.dim), dtype=np.float32)
    header = f"{'gallery':>8} {'method':>17} {'wall s':>8} {'cpu s':>7} {'Mcmp/s':>8} {'Mcmp/cpu-s':>10} {'probes/s':>9} {'peak MB':>9}  note"
    print(f"parts={args.parts} dim={args.dim} probes={args.probes} storage={args.dtype} threads={args.threads} "
          f"cpus={os.cpu_count()} numpy={np.__version__} load={os.getloadavg()[0]:.1f}")
    print(header)
    print("-" * len(header))
    for m in args.sizes:
        gallery = random_gallery(m, args.parts, args.dim, np.dtype(args.dtype))
        store_mb = gallery.nbytes / 2**20
        results = {}
        methods = [
            ("chunked-topk", lambda: topk(probes, gallery, args.k)),
            ("chunked-full", lambda: pairwise_distance(probes, gallery)),
        ]
        if not args.no_gallery:
            g = Gallery("bench", (args.parts, args.dim), storage_dtype=args.dtype)
            g.enroll_many(gallery, np.char.zfill((np.arange(m) // 4).astype(str), 6))  # already in subject order
            g.search_index().groups()  # group once, as a long-lived gallery would have
            methods.append(("gallery-identify", lambda: g.identify_batch(probes, top_k=args.k)))
        # float32 copy of the gallery + [P, N, M] products and sums (measured peak at 10k: within 1%)
        plain_bytes = 4 * (m * args.parts * args.dim + 3 * args.parts * args.probes * m)
        for name, fn in methods:
            t, cpu, peak, res = measure(fn, args.repeats)
            results[name] = res
            rows.append(dict(gallery=m, method=name, seconds=t, cpu_seconds=cpu, comparisons_per_s=args.probes * m / t,
                             probes_per_s=args.probes / t, peak_mb=peak / 2**20, store_mb=store_mb))
        if plain_bytes <= args.plain_max_gb * 2**30:
            t, cpu, peak, ref = measure(lambda: plain_numpy_distance(probes, gallery), args.repeats)
            err = float(np.abs(ref - results["chunked-full"]).max())
            rows.append(dict(gallery=m, method="plain-numpy", seconds=t, cpu_seconds=cpu, comparisons_per_s=args.probes * m / t,
                             probes_per_s=args.probes / t, peak_mb=peak / 2**20, store_mb=store_mb,
                             max_abs_diff_vs_chunked=err))
            top_ok = bool(np.array_equal(np.argsort(ref, axis=1, kind="stable")[:, :1], results["chunked-topk"][0][:, :1]))
            rows[-1]["top1_agrees"] = top_ok
        else:
            rows.append(dict(gallery=m, method="plain-numpy", seconds=None, store_mb=store_mb,
                             skipped=f"needs ~{plain_bytes / 2**30:.1f} GB > --plain-max-gb {args.plain_max_gb}"))
        for r in rows[-(len(methods) + 1):]:
            if r.get("seconds") is None:
                print(f"{m:>8} {r['method']:>17} {'-':>8} {'-':>7} {'-':>8} {'-':>10} {'-':>9} {'-':>9}  skipped: {r['skipped']}")
            else:
                note = f"gallery stored {store_mb:.0f} MB"
                if "max_abs_diff_vs_chunked" in r:
                    note = f"max |diff| vs chunked {r['max_abs_diff_vs_chunked']:.1e}, top-1 agrees {r['top1_agrees']}"
                print(f"{m:>8} {r['method']:>17} {r['seconds']:>8.3f} {r['cpu_seconds']:>7.2f} {r['comparisons_per_s'] / 1e6:>8.2f} "
                      f"{args.probes * m / max(r['cpu_seconds'], 1e-9) / 1e6:>10.2f} "
                      f"{r['probes_per_s']:>9.1f} {r['peak_mb']:>9.1f}  {note}")
        del gallery, results
        if not args.no_gallery:
            del g
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {maxrss_mb:.0f} MB")
    if args.json:
        payload = {"config": vars(args), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                     "numpy": np.__version__},
                   "process_peak_rss_mb": maxrss_mb, "rows": rows, "ann_rows": ann_rows}
        write_json(args.json, payload)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
