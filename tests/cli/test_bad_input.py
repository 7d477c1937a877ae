#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bad input to the vmm binary: every case must end with exactly one line on
stderr naming the problem and the documented non-zero status -- never a crash,
a hang or a stack of messages.

    test_bad_input.py --vmm build/vmm --guest-dir build/tests/guests

Cases that need /dev/kvm are skipped (with the reason) where it is missing.
Prints "N passed, N failed, N skipped"; exit 0 only if nothing failed.
"""
import argparse
import os
import socket
import subprocess
import sys

from cli_common import scratch_dir

ap = argparse.ArgumentParser()
ap.add_argument("--vmm", required=True)
ap.add_argument("--guest-dir", required=True)
args = ap.parse_args()

have_kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
hello = os.path.join(args.guest_dir, "hello.elf")
tmp = scratch_dir("vmm-badinput-")


def write(name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


busy_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
busy_sock.bind(("127.0.0.1", 0))
busy_sock.listen(1)
busy_port = busy_sock.getsockname()[1]

with open(hello, "rb") as f:
    hello_bytes = f.read()
truncated_elf = write("truncated.elf", hello_bytes[:200])
text_file = write("notes.txt", b"this is not a kernel\n" * 100)
empty = write("empty", b"")
bad_bzimage = bytearray(4096)
bad_bzimage[0x1fe:0x200] = b"\x55\xaa"
bad_bzimage[0x202:0x206] = b"HdrS"
bad_bzimage[0x206:0x208] = (0x0200).to_bytes(2, "little")  # protocol 2.00: too old
old_bzimage = write("old-bzimage", bytes(bad_bzimage))
# disk images: a qcow2 header with an impossible cluster size, garbage with
# the qcow2 magic, and a qcow2 that needs a backing file that is not there
bad_qcow2 = bytearray(4096)
bad_qcow2[0:4] = b"QFI\xfb"
bad_qcow2[4:8] = (3).to_bytes(4, "big")     # version 3
bad_qcow2[20:24] = (40).to_bytes(4, "big")  # cluster_bits 40: nonsense
corrupt_qcow2 = write("corrupt.qcow2", bytes(bad_qcow2))
short_qcow2 = write("short.qcow2", b"QFI\xfb\x00\x00\x00\x03")
# a FIFO: open(2) would wait for a writer (and restart after SIGTERM)
fifo = os.path.join(tmp, "fifo")
os.mkfifo(fifo)
orphan = os.path.join(tmp, "orphan.qcow2")
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b",
                os.path.join(tmp, "gone.qcow2"), "-F", "qcow2", orphan, "1M"],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
raw_disk = write("disk.raw", bytes(1 << 20))
# a VHD whose footer checksum is wrong, and a VHDX cut after its headers
bad_vhd = bytearray(1024)
bad_vhd[0:8] = b"conectix"
bad_vhd[60:64] = (3).to_bytes(4, "big")  # dynamic; checksum left 0
corrupt_vhd = write("corrupt.vhd", bytes(bad_vhd))
short_vhdx = write("short.vhdx", b"vhdxfile" + bytes(4088))
hugepages_free = 0
try:
    with open("/proc/sys/vm/nr_hugepages") as f:
        hugepages_free = int(f.read())
except OSError:
    pass

# (name, argv, expected status, words the one line must contain, needs kvm)
CASES = [
    ("no arguments", [], 2, ["no kernel"], False),
    ("unknown flag", ["--kernel", hello, "--frobnicate"], 2, ["--frobnicate"], False),
    ("flag without value", ["--kernel"], 2, ["needs a value"], False),
    ("nonsense memory", ["--kernel", hello, "--mem", "lots"], 2, ["--mem", "lots"], False),
    ("too little memory", ["--kernel", hello, "--mem", "1M"], 2, ["--mem"], False),
    ("zero cpus", ["--kernel", hello, "--cpus", "0"], 2, ["--cpus"], False),
    ("too many cpus", ["--kernel", hello, "--cpus", "1000"], 2, ["--cpus"], False),
    ("negative timeout", ["--kernel", hello, "--timeout", "-1"], 2, ["--timeout"], False),
    ("stray argument", ["--kernel", hello, "extra"], 2, ["extra"], False),
    ("missing kernel", ["--kernel", os.path.join(tmp, "nope")], 1, ["nope"], True),
    ("kernel is a directory", ["--kernel", tmp], 1, [tmp], True),
    ("kernel is a FIFO", ["--kernel", fifo], 1, ["fifo"], True),
    ("initrd is a FIFO", ["--kernel", hello, "--initrd", fifo], 1, ["fifo"], True),
    ("empty kernel", ["--kernel", empty], 1, ["empty"], True),
    ("text file as kernel", ["--kernel", text_file], 1, ["notes.txt"], True),
    ("truncated ELF", ["--kernel", truncated_elf], 1, ["truncated.elf"], True),
    ("bzImage protocol too old", ["--kernel", old_bzimage], 1, ["old-bzimage"], True),
    ("missing initrd", ["--kernel", hello, "--initrd", os.path.join(tmp, "rd")], 1, ["rd"], True),
    ("unwritable console log", ["--kernel", hello, "--console-log", "/proc/no/such/log"], 1,
     ["/proc/no/such/log"], True),
    ("command line too long", ["--kernel", hello, "--cmdline", "x" * 70000], 1, ["command line"], True),
    ("disk option unknown", ["--kernel", hello, "--disk", raw_disk + ",turbo"], 2, ["turbo"], False),
    ("disk format unknown", ["--kernel", hello, "--disk", raw_disk + ",format=bochs"], 2, ["bochs"],
     False),
    ("disk without a name", ["--kernel", hello, "--disk", ",readonly"], 2, ["--disk"], False),
    ("too many disks", ["--kernel", hello] + ["--disk", raw_disk] * 17, 2, ["16 disks"], False),
    ("missing disk", ["--kernel", hello, "--disk", os.path.join(tmp, "nodisk.img")], 1,
     ["nodisk.img"], True),
    ("disk is a directory", ["--kernel", hello, "--disk", tmp], 1, [tmp], True),
    ("disk is a FIFO", ["--kernel", hello, "--disk", fifo], 1, ["fifo"], True),
    ("empty disk", ["--kernel", hello, "--disk", empty], 1, ["empty"], True),
    ("corrupt qcow2", ["--kernel", hello, "--disk", corrupt_qcow2], 1, ["corrupt.qcow2"], True),
    ("truncated qcow2", ["--kernel", hello, "--disk", short_qcow2], 1, ["short.qcow2"], True),
    ("corrupt vhd", ["--kernel", hello, "--disk", corrupt_vhd + ",format=vhd"], 1,
     ["corrupt.vhd", "checksum"], True),
    ("truncated vhdx", ["--kernel", hello, "--disk", short_vhdx], 1, ["short.vhdx"], True),
    ("qcow2 backing file missing", ["--kernel", hello, "--disk", orphan], 1, ["gone.qcow2"], True),
    ("same disk twice", ["--kernel", hello, "--disk", raw_disk, "--disk", raw_disk], 1,
     ["in use"], True),
    ("exec empty command", ["--kernel", hello, "--exec", ""], 2, ["--exec", "empty"], False),
    ("exec with initrd", ["--kernel", hello, "--exec", "true", "--initrd", text_file], 2,
     ["--exec", "--initrd"], False),
    ("exec kernel without 9p", ["--kernel", hello, "--exec", "true"], 1,
     ["--exec", "CONFIG_9P_FS", "hello.elf"], True),
    ("net backend unknown", ["--kernel", hello, "--net", "socket,fd=3"], 2, ["socket"], False),
    ("net hostfwd malformed", ["--kernel", hello, "--net", "user,hostfwd=tcp:22"], 2,
     ["hostfwd", "tcp:22"], False),
    ("net dhcpstart outside net", ["--kernel", hello, "--net", "user,dhcpstart=10.0.3.15"], 2,
     ["dhcpstart=10.0.3.15"], False),
    ("net bad mac", ["--kernel", hello, "--net", "tap,mac=ff:ff:ff:ff:ff:ff"], 2, ["mac"], False),
    ("net vde no switch", ["--kernel", hello, "--net", f"vde,sock={tmp}/nosw"], 1,
     ["--net vde", "no VDE switch", "nosw"], True),
    ("net vde malformed URL", ["--kernel", hello, "--net", "vde,sock=1x://sw"], 2,
     ["--net vde", "1x://sw"], False),
    ("net vde unknown scheme", ["--kernel", hello, "--net", "vde,sock=nosuch://sw"], 1,
     ["nosuch://sw", "unknown vdeplug URL scheme"], True),
    ("too many NICs", ["--kernel", hello] + ["--net", "user"] * 9, 2, ["8 NICs"], False),
    ("too many virtio devices", ["--kernel", hello] + ["--net", "user"] * 8 +
     ["--disk", raw_disk] * 9, 2, ["16 virtio devices"], False),
    # a host port that is already taken: held by this script while vmm runs
    ("net hostfwd port in use", ["--kernel", hello, "--net",
                                 f"user,hostfwd=tcp:127.0.0.1:{busy_port}-:22"], 1,
     [f"127.0.0.1:{busy_port}"], False),
    # the socket backends (QEMU's -netdev stream / dgram / socket)
    ("net stream without address", ["--kernel", hello, "--net", "stream,server=on"], 2,
     ["--net stream", "addr.path="], False),
    ("net stream path too long", ["--kernel", hello, "--net", "stream,addr.path=/" + "p" * 120],
     2, ["--net stream", "addr.path"], False),
    ("net stream reconnect on a server", ["--kernel", hello, "--net",
                                          "stream,server=on,addr.port=5555,reconnect=1"], 2,
     ["reconnect="], False),
    ("net stream malformed host", ["--kernel", hello, "--net",
                                   "stream,addr.host=127.0.0,addr.port=5555"], 2,
     ["127.0.0", "addr.host"], False),
    ("net dgram unix to inet", ["--kernel", hello, "--net",
                                "dgram,local.path=/tmp/x.sock,remote.host=127.0.0.1,remote.port=9"],
     2, ["--net dgram", "both be unix or both inet"], False),
    ("net socket listen and connect", ["--kernel", hello, "--net",
                                       "socket,listen=:5555,connect=127.0.0.1:5555"], 2,
     ["one of listen="], False),
    # --share (virtio-9p): the directory is checked up front, exit status 2
    ("share missing dir", ["--kernel", hello, "--share", f"{tmp}/noshare"], 2,
     ["--share", "noshare", "No such file"], False),
    ("share not a dir", ["--kernel", hello, "--share", raw_disk], 2,
     ["--share", "not a directory"], False),
    ("share tag too long", ["--kernel", hello, "--share", f"{tmp},tag=" + "t" * 256], 2,
     ["--share", "1 to 255"], False),
    ("share tag with a space", ["--kernel", hello, "--share", f"{tmp},tag=a b"], 2,
     ["--share", "space"], False),
    ("share two with one tag", ["--kernel", hello, "--share", f"{tmp},tag=x", "--share",
                                f"{tmp},tag=x"], 2, ["two shares", "'x'"], False),
    ("share unknown option", ["--kernel", hello, "--share", f"{tmp},cache=loose"], 2,
     ["--share", "cache"], False),
    # the QMP socket: a path that cannot be a socket's, a file that is not one
    ("api-sock empty", ["--kernel", hello, "--api-sock", ""], 2, ["--api-sock"], False),
    ("api-sock too long", ["--kernel", hello, "--api-sock", "/" + "q" * 120], 2,
     ["--api-sock", "1..91 bytes"], False),
    ("api-sock not a socket", ["--kernel", hello, "--api-sock", text_file], 1,
     ["--api-sock", "notes.txt", "not a socket"], False),
    ("api-sock no directory", ["--kernel", hello, "--api-sock", f"{tmp}/nodir/q.sock"], 1,
     ["--api-sock", "nodir/q.sock"], False),
]
if not os.path.exists(orphan):
    CASES = [c for c in CASES if c[0] != "qcow2 backing file missing"]
    print("SKIP qcow2 backing file missing: qemu-img is not installed")
# /dev/kvm without permission: as an unprivileged user, where we can become one
SKIPPED_UP_FRONT = 0
setpriv = "/usr/bin/setpriv"
if os.geteuid() == 0 and os.path.exists(setpriv) and (os.stat("/dev/kvm").st_mode & 0o006) == 0:
    CASES.append(("no permission for /dev/kvm",
                  ["--kernel", hello], 1, ["no permission", "/dev/kvm"], True))
    PREFIX = {"no permission for /dev/kvm": [setpriv, "--reuid=65534", "--regid=65534",
                                             "--clear-groups"]}
else:
    print("SKIP no permission for /dev/kvm: needs root, setpriv and a /dev/kvm others cannot open")
    PREFIX = {}
    SKIPPED_UP_FRONT = 1
# creating a tap needs CAP_NET_ADMIN: as an unprivileged user the error must say so
if os.geteuid() == 0 and os.path.exists(setpriv) and os.path.exists("/dev/net/tun"):
    CASES.append(("tap without CAP_NET_ADMIN",
                  ["--kernel", hello, "--net", "tap,ifname=vmmbadtap0"], 1, ["CAP_NET_ADMIN"],
                  False))
    PREFIX["tap without CAP_NET_ADMIN"] = [setpriv, "--reuid=65534", "--regid=65534",
                                           "--clear-groups", "--inh-caps=-all",
                                           "--bounding-set=-all"]
else:
    print("SKIP tap without CAP_NET_ADMIN: needs root, setpriv and /dev/net/tun")
    SKIPPED_UP_FRONT += 1
if hugepages_free == 0:
    CASES.append(("hugepages not reserved", ["--kernel", hello, "--hugepages", "--mem", "64M"], 1,
                  ["huge"], True))

passed = failed = 0
skipped = SKIPPED_UP_FRONT
for name, argv, status, words, needs_kvm in CASES:
    if needs_kvm and not have_kvm:
        print(f"SKIP {name}: /dev/kvm not available")
        skipped += 1
        continue
    try:
        p = subprocess.run(PREFIX.get(name, []) + [args.vmm] + argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        print(f"FAIL {name}: vmm did not exit within 60 s")
        failed += 1
        continue
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    problems = []
    if p.returncode != status:
        problems.append(f"status {p.returncode}, expected {status}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, expected 1: {lines!r}")
    elif not all(w in lines[0] for w in words):
        problems.append(f"'{lines[0]}' does not mention {words}")
    if p.stdout.strip():
        problems.append(f"unexpected stdout {p.stdout[:200]!r}")
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems))
        failed += 1
    else:
        print(f"ok   {name}: {lines[0]}")
        passed += 1

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
