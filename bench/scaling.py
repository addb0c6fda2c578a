#!/usr/bin/env python3
"""Data-parallel training on one machine: zipml-train alone against `mpirun -np P zipml-train`.

For each precision, its packed stream file is written first (untimed), then these runs
alternate, each `--repeat` times, every one on `--threads 1` (one core per rank):
  one process       zipml-train --train P.zps --test ... (the reference)
  P ranks, epoch    mpirun -np P zipml-train ... (models averaged after every epoch)
  P ranks, every N  the same with --average N (many averagings per epoch: their cost)
  2 threads         zipml-train --threads 2 (one process using the cores another way)
Prints, per configuration, the medians of: the whole process's wall time (mpirun's start-up
included), the training pass per epoch as zipml-train reports it (median over the epochs of
s/epoch; for ranks: each rank's pass over its share plus the averaging), the test accuracy, and
the ratios against the one-process run. The same for training from the gzip files (every rank
reads and inflates all of them) with --from-data.

Usage: scaling.py ZIPML_TRAIN [--ranks 2] [--precisions q4,float32] [--repeat 3]
                  [--every 1000] [--data-dir DIR] [--from-data]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def run(cmd, summary):
    env = dict(os.environ, **ROOT_ENV)
    t0 = time.perf_counter()
    done = subprocess.run(cmd + ["--quiet", "--summary", summary], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"scaling.py: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    with open(summary) as f:
        r = json.load(f)["runs"][0]
    return wall, r["median_seconds_per_epoch"], r["test_accuracy"], r.get("averagings", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("zipml_train")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--precisions", default="q4,float32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=int, default=1000, help="samples per rank between averagings (the third run)")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--from-data", action="store_true", help="train from the gzip files instead of a packed file")
    a = ap.parse_args()
    z, p = a.zipml_train, str(a.ranks)
    test = ["--test", f"{a.data_dir}/t10k-images-idx3-ubyte.gz", "--test-labels", f"{a.data_dir}/t10k-labels-idx1-ubyte.gz"]
    mpi = ["mpirun", "-np", p, "--oversubscribe"]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, {a.ranks} ranks, "
          f"{'from the gzip files' if a.from_data else 'from a packed stream file'}, {a.repeat} runs each (medians)")
    print(f"{'precision':>9}  {'run':<22} {'wall s':>7} {'s/epoch':>8} {'test acc':>8} {'avgs':>5}  "
          f"{'wall/ref':>8} {'epoch/ref':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for prec in a.precisions.split(","):
            if a.from_data:
                data = ["--precision", prec]
            else:
                zps = os.path.join(tmp, f"{prec}.zps")
                subprocess.run([z, "--precision", prec, "--save-stream", zps, "--quiet", "--threads", "1"],
                               check=True, capture_output=True)
                data = ["--train", zps] + test
            configs = [
                ("one process", [z] + data + ["--threads", "1"]),
                (f"{p} ranks, every epoch", mpi + [z] + data + ["--threads", "1"]),
                (f"{p} ranks, every {a.every}", mpi + [z] + data + ["--threads", "1", "--average", str(a.every)]),
                ("one process, 2 threads", [z] + data + ["--threads", "2"]),
            ]
            results = {name: [] for name, _ in configs}
            for k in range(a.repeat):
                for name, cmd in configs:
                    results[name].append(run(cmd, os.path.join(tmp, "s.json")))
            ref_wall = statistics.median(r[0] for r in results["one process"])
            ref_epoch = statistics.median(r[1] for r in results["one process"])
            for name, _ in configs:
                rs = results[name]
                wall, epoch = statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)
                acc, avgs = statistics.median(r[2] for r in rs), rs[0][3]
                print(f"{prec:>9}  {name:<22} {wall:7.3f} {epoch:8.4f} {acc:8.4f} {avgs:5}  "
                      f"{wall / ref_wall:8.2f} {epoch / ref_epoch:9.2f}")


if __name__ == "__main__":
    main()
