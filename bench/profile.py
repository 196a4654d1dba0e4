"""Profile smarts3 under load with py-spy: 4 KiB GET, 4 KiB PUT and ListObjectsV2 of 200 keys.

    python bench/profile.py [--duration 10] [--rate 250] [--only get4k,put4k,list200] [--server smarts3-nofsync] [--keep]

Starts one smarts3 (filesystem, fsync on, auth on, access log off), drives each workload with wrk (1 thread,
16 connections) on a presigned URL while ``py-spy record --format raw`` samples the server, then prints the top
functions by own time ("self") and by time spent in them or their callees ("total"). Raw stacks (collapsed
format, loadable in speedscope) and a JSON summary go to bench/results/profile-<timestamp>/.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run

WORKLOADS = ("get4k", "put4k", "list200")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short_frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (pkg/file.py)``: group samples by function, not line."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarise(raw: Path, top: int) -> dict[str, object]:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short_frame(f) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count

    def pct(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / samples, 1)) for name, n in counter.most_common(top)]

    app_total = collections.Counter({k: v for k, v in total.items() if "smarts3/" in k})
    return {"samples": samples, "self": pct(own), "total": pct(total), "smarts3_total": pct(app_total)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sampling per workload")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--server", default="smarts3", choices=("smarts3", "smarts3-nofsync"), help="which smarts3 set-up to profile"
    )
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy not found: pip install py-spy")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = run.BENCH / "results" / f"profile-{stamp}"
    out_dir.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="smarts3-profile-"))
    server = run.start_server(args.server, tmp, pin=False)
    report: dict[str, object] = {"timestamp": stamp, "environment": run.environment(), "workloads": {}}
    try:
        s3 = server.s3
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="obj-4k", Body=b"x" * run.SMALL)
        s3.create_bucket(Bucket="l200")
        run.put_many(server, "l200", [f"key-{i:05d}" for i in range(200)], b"x" * 100)
        for name in (w for w in args.only.split(",") if w):
            url, method, _ = run.wrk_target(name, server)
            script = None
            if method == "PUT":
                script = tmp / "put.lua"
                script.write_text(run.WRK_SCRIPTS["put"])
            plain = run.run_wrk(url, 3, script, pin=False)  # rate without the profiler attached
            raw = out_dir / f"{name}.txt"
            wrk_argv = ["wrk", "-t1", "-c16", f"-d{args.duration + 3:g}s", "--timeout", "10s"]
            wrk_argv += (["-s", str(script)] if script else []) + [url]
            wrk = subprocess.Popen(wrk_argv, stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            spy = [
                "py-spy", "record", "--pid", str(server.proc.pid), "--format", "raw", "--rate", str(args.rate),
                "--duration", f"{int(args.duration)}", "--nonblocking", "--output", str(raw),
            ]  # fmt: skip
            subprocess.run(spy, capture_output=True, timeout=args.duration + 60, check=True)
            wrk_out, _ = wrk.communicate(timeout=args.duration + 60)
            under = re.search(r"Requests/sec:\s+([0-9.]+)", wrk_out)
            summary = summarise(raw, args.top)
            summary["rps_plain"] = round(plain.rps)
            summary["rps_profiled"] = round(float(under.group(1))) if under else None
            report["workloads"][name] = summary  # type: ignore[index]
            print(f"\n== {name}: {plain.rps:,.0f} req/s unprofiled, {summary['samples']} samples")
            for title in ("self", "total", "smarts3_total"):
                print(f"  -- top by {title}")
                for frame, share in summary[title]:  # type: ignore[attr-defined]
                    print(f"    {share:5.1f}%  {frame}")
    finally:
        run.stop_server(server)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    (out_dir / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nraw stacks and summary in {out_dir.relative_to(run.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
