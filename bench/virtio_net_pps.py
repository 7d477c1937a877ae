#!/usr/bin/env python3
"""virtio-net frames/s on the host side, no guest: build/bench/virtio_net_pps.

The test guests run their ring-0 code interpreted on these PVM hosts, so they
cannot show what the device path itself sustains. virtio_net_pps drives the
device the way the unit tests do (tests/unit/virtio/fake_guest.c: malloc'd
guest RAM, rings, the virtio-mmio registers), steps the event loop on one
thread, and reports frames/s, Mbit/s and CPU time per frame:

  tx     guest -> device -> null backend (send() counts and returns 0):
         one descriptor per frame (12-byte header + frame), 256-entry queues,
         EVENT_IDX; "b1" posts one frame per kick (a kick and an interrupt
         per frame) instead of the whole ring.
  rx     a backend that always has a frame ready (recv() copies it) ->
         device -> 1526-byte guest buffers, or 4 KiB ones with MRG_RXBUF.
  slirp  guest -> device -> libslirp -> UDP datagrams 10.0.2.15 -> 10.0.2.2:P
         -> a socket bound on 127.0.0.1:P; fps = datagrams delivered to it,
         Mbit/s = their payload.

Columns: cpu = process CPU ns per frame (getrusage, fake guest included),
split into usr/sys; dev = wall ns per frame spent in event-loop steps (the
device and its backend); kicks and irqs per 1000 frames; spread =
(max-min)/median of frames/s over the repeats.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

from common import BUILD

# (label, mode, args)
CASES = [
    ("tx 64", "tx", ["--size", "64"]),
    ("tx 1514", "tx", ["--size", "1514"]),
    ("tx 64 b1", "tx", ["--size", "64", "--batch", "1"]),
    ("rx 64", "rx", ["--size", "64"]),
    ("rx 1514", "rx", ["--size", "1514"]),
    ("rx 64 mrg", "rx", ["--size", "64", "--mrg"]),
    ("rx 1514 mrg", "rx", ["--size", "1514", "--mrg"]),
    ("slirp udp 64", "slirp", ["--size", "64"]),
    ("slirp udp 1400", "slirp", ["--size", "1400"]),
]
FIELDS = ("fps", "mbps", "cpu_ns", "usr_ns", "sys_ns", "dev_ns", "kicks_per_kf", "irqs_per_kf",
          "frames", "sent")


def run(tool, mode, args, secs):
    p = subprocess.run([tool, mode, "--secs", str(secs)] + args, capture_output=True, text=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit status {p.returncode}"
    vals = dict(re.findall(r"(\w+)=([\d.]+)", p.stdout))
    try:
        return {k: float(vals[k]) for k in FIELDS}, None
    except KeyError as e:
        return None, f"no {e} in output: {p.stdout.strip()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    ap.add_argument("--secs", type=float, default=1.5, help="measuring time per run")
    ap.add_argument("--quick", action="store_true", help="1 run of 0.5 s per case")
    ap.add_argument("--only", default="", help="comma-separated modes (tx,rx,slirp)")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.secs = 1, 0.5

    tool = os.path.join(BUILD, "bench", "virtio_net_pps")
    if not os.path.exists(tool):
        sys.exit(f"bench: {tool} missing: build first (needs cmocka; or set VMM_BUILD)")
    only = set(filter(None, args.only.split(",")))

    print(f"virtio_net_pps: no guest, one thread, median of {args.repeat} x {args.secs} s; "
          f"256-entry queues, EVENT_IDX")
    print(f"{'case':15} {'frames/s':>10} {'Mbit/s':>9} {'cpu ns':>7} {'usr':>5} {'sys':>5} "
          f"{'dev ns':>7} {'kicks/kf':>8} {'irqs/kf':>8} {'spread':>6}")
    misses = []
    for label, mode, extra in CASES:
        if only and mode not in only:
            continue
        runs = []
        for _ in range(args.repeat):
            r, err = run(tool, mode, extra, args.secs)
            if r is None:
                misses.append(f"{label}: {err}")
                break
            runs.append(r)
        if not runs:
            print(f"{label:15} {'n/a':>10}", flush=True)
            continue
        med = {k: statistics.median(r[k] for r in runs) for k in FIELDS}
        fps = [r["fps"] for r in runs]
        spread = (max(fps) - min(fps)) / med["fps"] if len(runs) > 1 else None
        line = (f"{label:15} {med['fps']:>10.0f} {med['mbps']:>9.1f} {med['cpu_ns']:>7.0f} "
                f"{med['usr_ns']:>5.0f} {med['sys_ns']:>5.0f} {med['dev_ns']:>7.0f} "
                f"{med['kicks_per_kf']:>8.2f} {med['irqs_per_kf']:>8.2f}")
        line += f" {spread * 100:>5.1f}%" if spread is not None else f" {'-':>6}"
        if mode == "slirp" and any(r["sent"] > r["frames"] for r in runs):
            lost = max(1 - r["frames"] / r["sent"] for r in runs)
            line += f"  (up to {lost * 100:.1f}% of sent datagrams not delivered)"
        print(line, flush=True)
    for m in misses:
        print(f"virtio_net_pps: not measured: {m}")
    if misses:
        sys.exit(1)


if __name__ == "__main__":
    main()
