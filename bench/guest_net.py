#!/usr/bin/env python3
"""Guest network throughput and latency through virtio-net, user networking and tap.

The net test guest (tests/guests/net.c, mode=bench in net_bench.c) drives
the NIC with its own polled driver. Against a UDP server this script runs
(on 127.0.0.1 for user networking, inside a network namespace of its own
for tap) it does, one phase after another:

  rtt    N UDP ping-pongs of 32 bytes, one at a time; the server echoes
  tx     N datagrams of S bytes (default 1472: 1514-byte frames), as fast
         as the guest can queue them; the server counts them
  small  N datagrams in 60-byte frames (64 on a wire, with the FCS)

Times are taken on the host: throughput from the first to the last datagram
the server received (frames lost on the way are reported); RTT as the time
from the server's echo k to the guest's request k+1 arriving, which is a
full round trip host -> guest -> host including the guest's own turnaround
(and Python's, a few tens of us).

On PVM hosts (see KVM-ON-THESE-HOSTS.md) the guest's ring-0 driver code is
interpreted, at roughly 0.7 us per instruction; every frame costs the guest
a few hundred instructions (building it, the ring, reclaiming it), which
caps what any VMM can show here at some thousands of frames per second.
The same guest on hardware KVM is orders of magnitude faster.

    guest_net.py [--n 20000] [--size 1472] [--rtt 2000] [--small 20000] [--no-tap]
    guest_net.py --serve ADDR PORT   (the server; used inside the namespace)
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

from common import GUESTS, VMM, median, require_kvm

TAP_NET = "192.168.77."
TAP_PORT = 7777


def serve(addr, port):
    """Echo 'R' datagrams, count the others per tag ('T', 'S') with their
    first and last arrival; on stdin EOF print the results as JSON."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, port))
    s.settimeout(0.2)
    stats = {}  # tag -> [count, bytes, first, last, max seq]
    rtt = []  # host-side round trips, ns
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    last_echo = None
    while not stop.is_set():
        try:
            data, peer = s.recvfrom(65536)
        except socket.timeout:
            continue
        now = time.monotonic_ns()
        tag = chr(data[0]) if data else "?"
        if tag == "R":
            if last_echo is not None:
                rtt.append(now - last_echo)
            s.sendto(data, peer)
            last_echo = time.monotonic_ns()
            continue
        st = stats.setdefault(tag, [0, 0, now, now, 0])
        st[0] += 1
        st[1] += len(data)
        st[3] = now
        if len(data) >= 5:
            st[4] = max(st[4], int.from_bytes(data[1:5], "little"))
    print(json.dumps({"stats": stats, "rtt": rtt}), flush=True)


def start_server(prefix, addr, port):
    p = subprocess.Popen(prefix + [sys.executable, os.path.abspath(__file__), "--serve", addr,
                                   str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        sys.exit("bench: the UDP server did not start")
    return p


def stop_server(p):
    out, _ = p.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def run_once(args, net_args, cmdline, prefix, addr, port):
    server = start_server(prefix, addr, port)
    cmd = prefix + [VMM, "--kernel", os.path.join(GUESTS, "net.elf"), "--timeout", "900"] + \
        net_args + ["--cmdline", f"mode=bench port={port} n={args.n} size={args.size} "
                    f"rtt={args.rtt} small={args.small} {cmdline}"]
    try:
        p = subprocess.run(cmd, stdin=subprocess.PIPE, capture_output=True, text=True)
    finally:
        res = stop_server(server)
    lines = p.stdout.replace("\r", "").splitlines()
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {p.returncode}:\n" + "\n".join(lines[-30:]) +
                 "\n" + p.stderr)
    guest = {}
    for line in lines:
        m = re.match(r"BENCH (\w+) n=(\d+)", line)
        if m:
            guest[m.group(1)] = line
    out = {}
    for tag, phase, frame in (("T", "tx", 42 + args.size), ("S", "small", 60)):
        n = args.n if phase == "tx" else args.small
        if not n:
            continue
        if tag not in res["stats"]:
            sys.exit(f"bench: no {phase} datagram reached the server")
        count, nbytes, first, last, _ = res["stats"][tag]
        secs = max(last - first, 1) / 1e9
        out[phase] = (count / secs, count * frame * 8 / secs / 1e6, n - count)
    rtt = sorted(res["rtt"])
    if rtt:
        out["rtt"] = (median(rtt) / 1e3, rtt[min(len(rtt) - 1, int(len(rtt) * 0.99))] / 1e3,
                      len(rtt))
    return out


def report(name, runs, args):
    parts = []
    if "rtt" in runs[0]:
        parts.append(f"RTT median {median([r['rtt'][0] for r in runs]):.0f} us, "
                     f"p99 {median([r['rtt'][1] for r in runs]):.0f} us "
                     f"({runs[0]['rtt'][2]} samples)")
    if "tx" in runs[0]:
        fps = median([r["tx"][0] for r in runs])
        mbit = median([r["tx"][1] for r in runs])
        lost = max(r["tx"][2] for r in runs)
        parts.append(f"guest->host {args.size}-byte datagrams ({42 + args.size}-byte frames): "
                     f"{mbit:.1f} Mbit/s, {fps:.0f} frames/s, lost {lost} of {args.n}")
    if "small" in runs[0]:
        fps = median([r["small"][0] for r in runs])
        lost = max(r["small"][2] for r in runs)
        parts.append(f"64-byte frames: {fps:.0f} frames/s, lost {lost} of {args.small}")
    print(f"guest_net: {name}, median of {len(runs)}: " + "; ".join(parts), flush=True)


def tap_namespace():
    """A namespace with bridge vmmbr0 at 192.168.77.1/24; returns its name."""
    ns = f"vmmbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    try:
        for c in (["link", "set", "lo", "up"], ["link", "add", "vmmbr0", "type", "bridge"],
                  ["addr", "add", TAP_NET + "1/24", "dev", "vmmbr0"],
                  ["link", "set", "vmmbr0", "up"]):
            subprocess.run(["ip", "-n", ns] + c, check=True, capture_output=True)
    except subprocess.CalledProcessError:
        subprocess.run(["ip", "netns", "del", ns])
        raise
    return ns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="tx datagrams")
    ap.add_argument("--size", type=int, default=1472, help="tx payload bytes (5..1472)")
    ap.add_argument("--rtt", type=int, default=2000, help="ping-pongs")
    ap.add_argument("--small", type=int, default=20000, help="64-byte frames")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-tap", action="store_true", help="user networking only")
    ap.add_argument("--serve", nargs=2, metavar=("ADDR", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    require_kvm()
    if not os.path.exists(os.path.join(GUESTS, "net.elf")):
        sys.exit("bench: net.elf missing: build tests/guests/guest-net first")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = [run_once(args, ["--net", "user"], "", [], "127.0.0.1", port)
            for _ in range(args.runs)]
    report("user networking (slirp)", runs, args)

    if args.no_tap:
        return
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("guest_net: tap skipped: needs root (CAP_NET_ADMIN) and ip (iproute2)")
        return
    try:
        ns = tap_namespace()
    except subprocess.CalledProcessError as e:
        print(f"guest_net: tap skipped: {' '.join(e.cmd)}: {e.stderr.strip()}")
        return
    try:
        prefix = ["ip", "netns", "exec", ns]
        for vnet in ("on", "off"):
            runs = [run_once(args, ["--net", f"tap,ifname=vmmtap0,bridge=vmmbr0,vnet_hdr={vnet}"],
                             f"ip={TAP_NET}2 peer={TAP_NET}1", prefix, TAP_NET + "1", TAP_PORT)
                    for _ in range(args.runs)]
            report(f"tap (vnet_hdr={vnet}, bridge in a namespace)", runs, args)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
