#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/lib/bench-report on runs of known values: the columns of every
row, raw's best variant as the limit, the ratios P2b and P6 from it, the
packed ring's column and P7, and runs of older outputs (without variant,
ring, rate or CPU time)."""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "scripts" / "lib" / "bench-report"
COLUMNS = ("target", "layout", "variant", "ring", "queues", "iodepth", "rw", "iops", "p50_us",
           "p99_us", "cpu_us_per_io", "rate_iops")


def run(target, layout="", variant="", iodepth=32, queues=1, rate=None, iops=1000.0, cpu=10.0,
        phase="round", ring="split"):
    # raw drives the device itself: it has no ring.
    return {"target": target, "layout": layout, "variant": variant,
            "ring": None if target == "raw" else ring,
            "rw": "randread", "bs": 4096, "iodepth": iodepth, "queues": queues, "poll_us": 0,
            "rate_iops": rate, "round": 1, "phase": phase, "iops": iops, "p50_us": 50.0,
            "p99_us": 90.0, "p999_us": 120.0, "worker_busy_pct": None, "cpu_us_per_io": cpu}


def report(lines):
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs.jsonl"
        runs.write_text("".join(json.dumps(line) + "\n" for line in lines))
        subprocess.run([sys.executable, str(REPORT), str(runs), f"{tmp}/out", "--kernel", "k"],
                       check=True, stdout=subprocess.DEVNULL)
        return (json.loads(Path(f"{tmp}/out.json").read_text()),
                Path(f"{tmp}/out.md").read_text())


class BenchReport(unittest.TestCase):
    def test_rows_variants_and_ratios(self):
        lines = [{"idle_cpu_pct": 0.5},
                 run("raw", variant="io_uring", iops=40e3, phase="scan"),
                 run("raw", variant="io_uring-sqpoll", iops=50e3, phase="scan"),
                 run("raw", variant="io_uring-sqpoll", iops=54e3),
                 run("qsd", iops=20e3),
                 run("vhost-blk", "single", iops=45e3),
                 run("vhost-blk", "per-vq", iops=47e3),
                 run("vhost-blk", "auto", iops=46e3),
                 run("vhost-blk", "single", iops=49.5e3, ring="packed")]
        for qd in (1, 8):
            lines += [run("raw", variant="io_uring", iodepth=qd, rate=2000, iops=2000, cpu=20),
                      run("qsd", iodepth=qd, rate=2000, iops=2000, cpu=80),
                      run("vhost-blk", "single", iodepth=qd, rate=2000, iops=2000, cpu=30)]
        result, md = report(lines)
        self.assertEqual(result["idle_cpu_pct"], 0.5)
        self.assertEqual(len(result["runs"]), len(lines) - 1)
        for row in result["rows"]:
            for c in COLUMNS:
                self.assertIn(c, row)
        # The median of the best variant's two runs is the limit.
        ratios = result["ratios"]
        p2b = next(v for k, v in ratios.items() if k.startswith("P2b"))
        self.assertEqual(p2b, round(47e3 / 52e3, 3))
        # The adaptive layout against the better of the two fixed ones.
        p4 = [v for k, v in ratios.items() if k.startswith("P4")]
        self.assertEqual(p4, [round(46e3 / 47e3, 3)])
        p6 = [v for k, v in ratios.items() if k.startswith("P6")]
        self.assertEqual(p6, [0.375, 0.375])
        # The packed ring against the split one, the same layout.
        p7 = [v for k, v in ratios.items() if k.startswith("P7")]
        self.assertEqual(p7, [1.1])
        self.assertIn("| vhost-blk auto | vhost-blk single packed | raw variant |", md)
        self.assertIn("| randread 4k QD32 1 vq | 52.0k | 20.0k | 45.0k | 47.0k | 46.0k | "
                      "49.5k | io_uring-sqpoll |", md)
        self.assertIn("| randread 4k QD1 1 vq, 2000 IOPS | 20.0 | 80.0 | 30.0 | - | - | - |", md)
        raw_rows = [r for r in result["rows"] if r["target"] == "raw"]
        self.assertTrue(raw_rows)
        self.assertTrue(all(r["ring"] is None for r in raw_rows))

    def test_older_runs(self):
        old = [{k: v for k, v in run(t, lay).items()
                if k not in ("variant", "ring", "rate_iops", "cpu_us_per_io", "phase")}
               for t, lay in (("raw", ""), ("qsd", ""), ("vhost-blk", "single"))]
        result, _ = report(old)
        for row in result["rows"]:
            self.assertEqual((row["ring"], row["rate_iops"], row["cpu_us_per_io"]),
                             ("split", None, None))


if __name__ == "__main__":
    unittest.main()
