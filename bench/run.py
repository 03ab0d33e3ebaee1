"""`make bench`: every benchmark in one run, a table on stdout, bench/results/latest.json.

Figures are measured side by side in this run; where a comparison exists the ratio is printed.
Sizes can be lowered for a quick look: BENCH_QUICK=1.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.env import ROOT, create_database, dev_server, postgres

QUICK = os.environ.get("BENCH_QUICK") == "1"
ONLY = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}  # e.g. BENCH_ONLY=lifecycle


def want(name: str) -> bool:
    return not ONLY or name in ONLY


SIZES = {
    "lifecycle_n": 100 if QUICK else 400,
    "lifecycle_concurrency": 32,
    "deadline_n": 100 if QUICK else 500,
    "query_members": 100_000 if QUICK else 1_000_000,
    "query_transfers": 30_000 if QUICK else 300_000,
    "query_busy_pending": 5_000,
    "query_runs": 50 if QUICK else 200,
    "bulk_n": 1_000 if QUICK else 10_000,  # started each way; 2 × bulk_n open for the memory figure
}


def _machine(server_version: str, pg_version: str) -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporal": server_version,
        "postgresql": pg_version,
    }


async def _pg_version(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


async def main() -> dict:
    from bench import bulk_start, deadline, lifecycle, query
    from models.db import make_engine
    from models.migrate import upgrade
    from seed.demo import seed_demo

    results: dict = {"started_at": datetime.now(UTC).isoformat(), "sizes": SIZES, "quick": QUICK}
    with tempfile.TemporaryDirectory(prefix="zhtj-bench-") as tmp, postgres() as pg:
        work = Path(tmp)
        with dev_server(work) as server:
            results["machine"] = _machine(server.version, await _pg_version(pg.url))
            pids = {"dev_server": server.proc.pid, "postgresql": pg.pid}

            if want("lifecycle") or want("deadline"):
                db = await create_database(pg.url, "bench_lifecycle")
                upgrade(db)
                engine = make_engine(db)
                await seed_demo(engine, members=SIZES["lifecycle_n"] * 3)
                await engine.dispose()

            if want("lifecycle"):
                t = time.perf_counter()
                # each side on a fresh dev server: the history store grows with every run, so
                # running one after the other on the same one would favour the first
                runs = {}
                for name in ("bare", "bare_unsandboxed", "transfer"):
                    (work / name).mkdir()
                    with dev_server(work / name) as srv:
                        side = {"dev_server": srv.proc.pid, "postgresql": pg.pid}
                        if name == "transfer":
                            runs[name] = await lifecycle.real(
                                srv.address, db, SIZES["lifecycle_n"], SIZES["lifecycle_concurrency"], work, side
                            )
                        else:
                            runs[name] = await lifecycle.bare(
                                srv.address,
                                SIZES["lifecycle_n"],
                                SIZES["lifecycle_concurrency"],
                                work,
                                side,
                                runner="unsandboxed" if name == "bare_unsandboxed" else "ours",
                            )
                bare, strict, real = runs["bare"], runs["bare_unsandboxed"], runs["transfer"]
                results["lifecycle"] = {
                    "bare_per_s": round(bare["per_s"], 2),
                    "transfers_per_s": round(real["per_s"], 2),
                    "ratio": round(real["per_s"] / bare["per_s"], 3),
                    "bare_unsandboxed_per_s": round(strict["per_s"], 2),
                    "ratio_vs_unsandboxed_bare": round(real["per_s"] / strict["per_s"], 3),
                    "completed_rows": real["completed_rows"],
                    "n": SIZES["lifecycle_n"],
                    "cpu_ms_per_transfer": {
                        "bare": bare["cpu_ms"],
                        "bare_unsandboxed": strict["cpu_ms"],
                        "transfer": real["cpu_ms"],
                    },
                    "seconds": round(time.perf_counter() - t, 1),
                }
                print(
                    f"lifecycle: bare {bare['per_s']:.1f}/s, transfers {real['per_s']:.1f}/s, "
                    f"ratio {real['per_s'] / bare['per_s']:.2f}; CPU ms per transfer bare {bare['cpu_ms']}, "
                    f"transfer {real['cpu_ms']}",
                    flush=True,
                )

            if want("deadline"):
                t = time.perf_counter()
                results["deadline"] = await deadline.run(server.address, db, SIZES["deadline_n"], work, pids)
                results["deadline"]["seconds"] = round(time.perf_counter() - t, 1)
                print(f"deadline: {results['deadline']}", flush=True)

            if want("bulk_start") or want("memory"):
                t = time.perf_counter()
                bulk_db = await create_database(pg.url, "bench_bulk")
                upgrade(bulk_db)
                engine = make_engine(bulk_db)
                await seed_demo(engine, members=200)  # the org tree and the logins; the graduates come next
                await engine.dispose()
                out = await bulk_start.run(server.address, server.proc.pid, bulk_db, SIZES["bulk_n"], work, pids)
                results["memory"] = out.pop("memory")
                results["bulk_start"] = {**out, "seconds": round(time.perf_counter() - t, 1)}
                print(f"bulk start: {results['bulk_start']}", flush=True)
                print(f"memory: {results['memory']}", flush=True)

        if want("query"):
            t = time.perf_counter()
            qdb = await create_database(pg.url, "bench_query")
            upgrade(qdb)
            loaded = await query.load(
                qdb, SIZES["query_members"], SIZES["query_transfers"], SIZES["query_busy_pending"]
            )
            measured = await query.measure(qdb, loaded["busy_org"], SIZES["query_runs"], work)
            results["query"] = {
                **loaded,
                **measured,
                "members": SIZES["query_members"],
                "transfers": SIZES["query_transfers"],
                "seconds": round(time.perf_counter() - t, 1),
            }
            print(f"query: inbox p95 {measured['inbox_p95_ms']} ms, api p95 {measured['api_p95_ms']} ms", flush=True)
    return results


def report(results: dict) -> None:
    rows = []
    lc = results.get("lifecycle")
    if lc:
        rows.append(
            (
                "1 lifecycle",
                f"{lc['transfers_per_s']} transfers/s vs bare {lc['bare_per_s']}/s "
                f"(unsandboxed bare {lc['bare_unsandboxed_per_s']}/s: {lc['ratio_vs_unsandboxed_bare']})",
                f"ratio {lc['ratio']}",
                "≥ 0.7",
            )
        )
    b = results.get("bulk_start")
    if b:
        rows.append(
            (
                "2 bulk start",
                f"import {b['starts_per_s']}/s vs start_workflow {b['plain_starts_per_s']}/s ({b['n']} each)",
                f"ratio {b['ratio']}",
                "≥ 0.6",
            )
        )
    d = results.get("deadline")
    if d:
        rows.append(
            (
                "3 deadline",
                f"lateness p50 {d['p50_s']} s, p99 {d['p99_s']} s ({d['auto_approved']} auto-approved, "
                f"{d['arrivals_per_s']}/s arriving)",
                f"p99 {d['p99_s']} s",
                "p99 < 2 s",
            )
        )
    q = results.get("query")
    if q:
        rows.append(
            (
                "4 query",
                f"inbox p50 {q['inbox_p50_ms']} ms p95 {q['inbox_p95_ms']} ms; API p50 {q['api_p50_ms']} "
                f"ms p95 {q['api_p95_ms']} ms; index {'yes' if q['uses_index'] else 'NO'}",
                f"p95 {max(q['inbox_p95_ms'], q['api_p95_ms'])} ms",
                "p95 < 50 ms",
            )
        )
    mm = results.get("memory")
    if mm:
        rows.append(
            (
                "5 memory",
                f"{mm['open_transfers']} open: worker {mm['worker_rss_mb']} MB, dev server {mm['server_rss_mb']} MB",
                f"{mm['worker_rss_mb']} MB",
                "worker < 500 MB",
            )
        )
    width = max(len(r[1]) for r in rows) if rows else 10
    print()
    print(f"{'benchmark':<14} {'figure':<{width}}  {'result':<16} target")
    for name, fig, res, target in rows:
        print(f"{name:<14} {fig:<{width}}  {res:<16} {target}")
    m = results.get("machine", {})
    print(
        f"\nmachine: {m.get('cores')} cores, Python {m.get('python')}, {m.get('temporal')}, PostgreSQL {m.get('postgresql')}"
    )


if __name__ == "__main__":
    from core.logging import configure

    configure("console", "WARNING")
    res = asyncio.run(main())
    # latest.json holds full runs only; a quick or partial look is written beside it
    name = "latest" if not (QUICK or ONLY) else "-".join((["quick"] if QUICK else []) + sorted(ONLY))
    out = ROOT / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(res, ensure_ascii=False, indent=2))
    report(res)
    print(f"written {out.relative_to(ROOT)}")
    sys.stdout.flush()
    os._exit(0)
