#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QMP round trip: `query-status` sent and its reply read, N times over one
connection to `vmm --api-sock` running the count guest (its vCPU busy, as a
real guest's would be). Prints the median, p99 and max in microseconds, and
the same for `stop`+`cont` pairs (each a pause of every vCPU: a kick out of
KVM_RUN and a wait until all are parked, then their release).

    python3 bench/qmp_latency.py [N]        (default 2000)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from common import GUESTS, VMM, require_kvm


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    require_kvm()
    with tempfile.TemporaryDirectory(prefix="vmm-qmp-bench-") as tmp:
        path = os.path.join(tmp, "qmp.sock")
        p = subprocess.Popen([VMM, "--kernel", os.path.join(GUESTS, "count.elf"), "--mem", "32M",
                              "--timeout", "300", "--api-sock", path],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            s = socket.socket(socket.AF_UNIX)
            deadline = time.monotonic() + 10
            while True:
                try:
                    s.connect(path)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: no QMP socket")
                    time.sleep(0.01)
            f = s.makefile("rwb", buffering=0)

            def call(cmd):
                f.write(cmd)
                while True:
                    v = json.loads(f.readline())
                    if "event" not in v:
                        return v

            f.readline()  # greeting
            call(b'{"execute": "qmp_capabilities"}\n')
            rt = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                r = call(b'{"execute": "query-status"}\n')
                rt.append((time.perf_counter_ns() - t0) / 1000)
                assert r["return"]["running"], r
            sc = []
            for _ in range(max(1, n // 10)):
                t0 = time.perf_counter_ns()
                call(b'{"execute": "stop"}\n')
                call(b'{"execute": "cont"}\n')
                sc.append((time.perf_counter_ns() - t0) / 1000)
            call(b'{"execute": "quit"}\n')
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"qmp query-status round trip, {n} calls: median {pct(rt, 50):.1f} us, "
          f"p99 {pct(rt, 99):.1f} us, max {max(rt):.1f} us")
    print(f"qmp stop+cont (pause and resume 1 vCPU), {len(sc)} pairs: median "
          f"{pct(sc, 50):.1f} us, p99 {pct(sc, 99):.1f} us, max {max(sc):.1f} us")


if __name__ == "__main__":
    main()
