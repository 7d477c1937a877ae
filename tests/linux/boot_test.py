#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot the Linux test guest (guest-images/) in vmm and check what it does.

    python3 tests/linux/boot_test.py [--vmm build/vmm] [--kernel vmlinux]
                                     [--initrd initramfs.cpio] [--timeout 900]
                                     [--root-disk [root.qcow2]] [--virtio-cmdline]
                                     [--xapic]

The kernel and initramfs default to those named in
${VMM_CACHE:-~/.cache/vmm}/current.env (written by guest-images/build-all.sh).
vmm runs with 2 vCPUs and 256 MiB; the test reads the serial console and
requires, in the kernel log:

  - the ACPI MADT used for the SMP configuration, and the DSDT loaded;
  - both CPUs up ("smp: Brought up 1 node, 2 CPUs");
  - the serial console on COM1 ("ttyS0 at I/O 0x3f8");
  - the kernel starting /init ("Run /init as init process");

and that vmm then ends on its own with the right exit status:

  - on a host whose KVM is PVM (/sys/module/kvm_pvm exists) guest user space
    cannot make system calls, so /init dies, the kernel panics, pvpanic
    reports it: exit status 4 and "Kernel panic" in the log;
  - elsewhere /init runs ("vmm-guest: init running") and powers the machine
    off through ACPI S5: exit status 0.

With --root-disk the guest boots without an initramfs from an ext4 root file
system on /dev/vda (ROOTFS of current.env: a qcow2 image made by
guest-images/build-rootfs.sh). The test puts a copy-on-write overlay over it
(vmm-img create -b, so the cached image is never written), boots with
root=/dev/vda, and also requires the virtio-blk disk to appear, ext4 to mount
it and the kernel to start /sbin/init from it; afterwards `qemu-img check`
must find the overlay (which the kernel wrote to when mounting) clean. With
--virtio-cmdline vmm announces the disk with virtio_mmio.device= instead of
in the DSDT. With --compressed-root the root image is first converted to a
compressed qcow2 (zlib, or zstd with --compressed-root=zstd: `qemu-img
convert -c`) and the guest boots from that copy directly, so every read
decompresses and every write the kernel makes copies a compressed cluster
into a new one; `qemu-img check` must then find it clean. With --xapic the kernel runs its LAPICs in xAPIC mode
(nox2apic), which on PVM hosts hung at the SMP bring-up until vmm stopped
offering the hypercall-based paravirt features there (issue 15).

With --root-9p the guest boots without an initramfs from a 9p root: a
temporary directory holding the files of the initramfs (its /init copied to
/sbin/init) shared with `vmm --share DIR,tag=vmmroot` and booted with
root=vmmroot rootfstype=9p rootflags=trans=virtio (Linux 6.1's
mount_nodev_root: a root= that names no block device is the 9p mount tag).
The log must show "VFS: Mounted root (9p filesystem)" and the kernel starting
/sbin/init from the share; afterwards the share's files are still the host's.

On PVM hosts the test uses the small initramfs (INITRD_MINI: a static
/init of a few KiB) unless --initrd is given: user space cannot run there
anyway, and unpacking busybox's 2 MiB costs ~8 s (a third of the boot) of
interpreted guest kernel code.

Prints the time (host seconds since vmm started, and the guest's printk time)
of each milestone. Exit status: 0 pass, 1 fail, 77 skip (no /dev/kvm, or the
guest images are not built).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Kernel options, and why:
#   console=ttyS0         the kernel log on COM1, which the test reads
#   earlyprintk=serial    messages from the first instructions on, so a hang
#                         in early boot still shows where it stopped
#   panic=-1              reboot at once on a panic (after pvpanic reported it)
#   no_timer_check        skip the IO-APIC timer check (it waits for ticks;
#                         KVM guests set it anyway)
#   tsc=reliable          no TSC warp check when the AP comes up and no
#                         clocksource watchdog (both spin in interpreted code
#                         on PVM hosts; the TSC of a KVM guest is stable)
#   pci=off               vmm has no PCI bus: skip probing config space
#                         (the kernel has PCI only because ACPICA needs it)
BASE_CMDLINE = ("console=ttyS0 earlyprintk=serial panic=-1 no_timer_check "
                "tsc=reliable pci=off")

# (name, regex, required): milestones in the order they normally appear.
def milestones(cpus, root_disk=False, acpi=True, net_dhcp=False, root_9p=False):
    cpu_word = "CPU" if cpus == 1 else "CPUs"
    # ip=dhcp: the kernel's own DHCP client (net/ipv4/ipconfig.c) asks vmm's
    # user network (QEMU's defaults) for an address before /init runs.
    net = [
        ("DHCP answer", r"IP-Config: Got DHCP answer from 10\.0\.2\.2, my address is 10\.0\.2\.15",
         True),
        ("address 10.0.2.15/24 via 10.0.2.2",
         r"ipaddr=10\.0\.2\.15, mask=255\.255\.255\.0, gw=10\.0\.2\.2", True),
        ("DNS server 10.0.2.3", r"nameserver0=10\.0\.2\.3", True),
    ] if net_dhcp else []
    if root_9p:
        init = [
            ("root mounted", r"VFS: Mounted root \(9p filesystem\)", True),
            ("/sbin/init started", r"Run /sbin/init as init process", True),
        ]
    elif root_disk:
        init = [
            ("virtio disk vda", r"virtio_blk virtio\d+: \[vda\] \d+ 512-byte logical blocks",
             True),
            ("ext4 mounted", r"EXT4-fs \(vda\): mounted filesystem", True),
            ("root mounted", r"VFS: Mounted root \(ext4 filesystem\)", True),
            ("/sbin/init started", r"Run /sbin/init as init process", True),
        ]
    else:
        init = [
            ("initramfs unpacked", r"Freeing initrd memory", False),
            ("/init started", r"Run /init as init process", True),
        ]
    return [
        ("kernel started", r"Linux version \d+\.\d+", True),
        ("ACPI MADT used", r"ACPI: Using ACPI \(MADT\) for SMP configuration", acpi),
        ("MP table used", r"Intel MultiProcessor Specification v1\.4", not acpi),
        ("SMP bring-up", r"smp: Bringing up secondary CPUs", cpus > 1),
        (f"{cpus} {cpu_word} up", rf"smp: Brought up \d+ nodes?, {cpus} {cpu_word}\b", True),
        ("ACPI DSDT loaded", r"ACPI: \d+ ACPI AML tables successfully acquired and loaded",
         acpi),
        ("serial console", r"ttyS0 at I/O 0x3f8", True),
    ] + net + init + [
        ("user space", r"vmm-guest: init running", False),
        ("kernel panic", r"Kernel panic - not syncing", False),
    ]


def read_env(path):
    env = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    env[k] = v
    except OSError:
        pass
    return env


def unpack_cpio(path, dest):
    """The regular files, directories and symlinks of a newc cpio archive
    (device nodes are skipped: the share is a plain directory)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 110 <= len(data):
        hdr = data[pos:pos + 110]
        if hdr[:6] not in (b"070701", b"070702"):
            raise ValueError(f"{path}: not a newc cpio archive")
        mode = int(hdr[14:22], 16)
        size = int(hdr[54:62], 16)
        namesize = int(hdr[94:102], 16)
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        body = data[pos:pos + size]
        pos = (pos + size + 3) & ~3
        if name == "TRAILER!!!":
            break
        target = os.path.join(dest, name.lstrip("/"))
        kind = mode & 0o170000
        if kind == 0o040000:
            os.makedirs(target, exist_ok=True)
        elif kind == 0o100000:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(body)
            os.chmod(target, mode & 0o7777)
        elif kind == 0o120000:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(body.decode(), target)


def is_pvm():
    return os.path.exists("/sys/module/kvm_pvm")


def make_overlay(args, overlay):
    """A qcow2 overlay over the root image: the guest's writes land in it.
    With --root-format FMT: a copy of the root image in that format."""
    vmm_img = args.vmm_img or os.path.join(os.path.dirname(os.path.abspath(args.vmm)), "vmm-img")
    backing = os.path.abspath(args.root_disk)
    if args.root_format != "qcow2":
        cmd = [vmm_img, "convert", "-O", args.root_format, backing, overlay]
    elif os.path.isfile(vmm_img):
        cmd = [vmm_img, "create", "-f", "qcow2", "-b", backing, "-F", "qcow2", overlay]
    else:
        cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", overlay]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        return f"cannot run {cmd[0]}: {e}"
    if r.returncode != 0:
        return f"{' '.join(cmd)} failed: {r.stdout.strip()}"
    print(f"boot_test: overlay {overlay} over {backing} ({os.path.basename(cmd[0])})")
    return None


def make_compressed(args, out):
    """A compressed copy of the root image (qemu-img convert -c)."""
    cmd = ["qemu-img", "convert", "-c", "-O", "qcow2"]
    if args.compressed_root == "zstd":
        cmd += ["-o", "compression_type=zstd"]
    cmd += [os.path.abspath(args.root_disk), out]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        return f"cannot run qemu-img: {e}"
    if r.returncode != 0:
        return f"{' '.join(cmd)} failed: {r.stdout.strip()}"
    print(f"boot_test: compressed root {out} ({args.compressed_root}, "
          f"{os.path.getsize(out) >> 10} KiB)")
    return None


def check_image(path):
    """None if `qemu-img check` finds the image clean, else the reason."""
    try:
        r = subprocess.run(["qemu-img", "check", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    except OSError:
        print("boot_test: qemu-img not installed: the overlay is not checked")
        return None
    if r.returncode != 0:
        return f"qemu-img check {path}: status {r.returncode}: {r.stdout.strip()}"
    return None


def parse_args():
    cache = os.environ.get("VMM_CACHE", os.path.expanduser("~/.cache/vmm"))
    env = read_env(os.path.join(cache, "current.env"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vmm", default=os.environ.get("VMM", os.path.join(REPO, "build", "vmm")))
    p.add_argument("--kernel", default=os.environ.get("KERNEL", env.get("KERNEL")))
    p.add_argument("--initrd", default=os.environ.get("INITRD"),
                   help="default: INITRD_MINI of current.env on PVM hosts, INITRD elsewhere")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--mem", default="256M")
    p.add_argument("--timeout", type=int, default=900,
                   help="vmm --timeout, seconds (the guest takes ~2 min on PVM hosts)")
    p.add_argument("--cmdline", default="", help="appended to the test's kernel command line")
    p.add_argument("--log", help="write the console log here (default: a temporary file, "
                   "removed when the test passes)")
    p.add_argument("--pvm", choices=["auto", "yes", "no"], default="auto",
                   help="expect PVM behaviour (default: auto, /sys/module/kvm_pvm)")
    p.add_argument("--root-disk", nargs="?", const=env.get("ROOTFS", ""), default=None,
                   metavar="IMAGE", help="boot from an ext4 root on /dev/vda (default image: "
                   "ROOTFS of current.env) instead of an initramfs")
    p.add_argument("--root-format", default="qcow2",
                   help="with --root-disk: boot from a copy in this format (vmm-img convert) "
                   "instead of a qcow2 overlay")
    p.add_argument("--compressed-root", nargs="?", const="zlib", choices=["zlib", "zstd"],
                   default=None, help="with --root-disk: boot from a compressed qcow2 copy "
                   "of the root image (no overlay)")
    p.add_argument("--root-9p", action="store_true",
                   help="boot from a 9p root: the initramfs's files in a directory shared "
                        "with --share DIR,tag=vmmroot")
    p.add_argument("--virtio-cmdline", action="store_true",
                   help="pass vmm --virtio-cmdline (devices on the command line, not in the DSDT)")
    p.add_argument("--xapic", action="store_true",
                   help="boot with nox2apic: the LAPIC stays in xAPIC mode (issue 15), "
                        "and the log must not show x2APIC enabled")
    p.add_argument("--net-dhcp", action="store_true",
                   help="add a NIC on user networking (--net user) and boot with ip=dhcp: "
                        "the kernel must get 10.0.2.15 from vmm's DHCP server")
    p.add_argument("--net-vde-nat", action="store_true",
                   help="with --net-dhcp: the NIC on a VDE NAT network (`vde_plug "
                        "switch://DIR slirp://`, libslirp's DHCP with QEMU's defaults) "
                        "instead of --net user")
    p.add_argument("--vmm-img", default=None,
                   help="vmm-img for the overlay (default: next to --vmm, else qemu-img)")
    p.add_argument("-q", "--quiet", action="store_true", help="do not echo the console")
    args = p.parse_args()
    args.pvm = is_pvm() if args.pvm == "auto" else args.pvm == "yes"
    if args.initrd is None:
        args.initrd = env.get("INITRD_MINI") if args.pvm else env.get("INITRD")
        if args.initrd is None:
            args.initrd = env.get("INITRD")
    return args


def main():
    args = parse_args()

    if not os.path.exists("/dev/kvm"):
        print("SKIP: /dev/kvm does not exist (no KVM on this host)")
        return SKIP
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not readable and writable by this user")
        return SKIP
    if not args.kernel or (not args.initrd and args.root_disk is None) or args.root_disk == "":
        print("SKIP: no guest images: run guest-images/build-all.sh "
              "(or pass --kernel and --initrd / --root-disk)")
        return SKIP
    need = [("vmm", args.vmm), ("kernel", args.kernel)]
    need.append(("root disk", args.root_disk) if args.root_disk else ("initrd", args.initrd))
    for what, path in need:
        if not os.path.isfile(path):
            print(f"FAIL: {what} {path} not found")
            return 1

    cmdline = BASE_CMDLINE + (" " + args.cmdline if args.cmdline else "")
    cmd = [args.vmm, "--kernel", args.kernel]
    tmpdir = None
    overlay = None
    if args.root_9p:
        tmpdir = tempfile.TemporaryDirectory(prefix="vmm-linux-9p-")
        share = os.path.join(tmpdir.name, "root")
        os.makedirs(share)
        unpack_cpio(args.initrd, share)
        for d in ("sbin", "dev", "proc", "sys"):
            os.makedirs(os.path.join(share, d), exist_ok=True)
        shutil.copy2(os.path.join(share, "init"), os.path.join(share, "sbin", "init"))
        with open(os.path.join(share, "host-file"), "w") as f:
            f.write("from the host\n")
        cmd += ["--share", share + ",tag=vmmroot"]
        cmdline += " root=vmmroot rootfstype=9p rootflags=trans=virtio rw"
    elif args.root_disk:
        tmpdir = tempfile.TemporaryDirectory(prefix="vmm-linux-root-")
        overlay = os.path.join(tmpdir.name, "overlay." + args.root_format)
        if args.compressed_root:
            err = make_compressed(args, overlay)
        else:
            err = make_overlay(args, overlay)
        if err:
            print("FAIL: " + err)
            return 1
        cmd += ["--disk", overlay]
        cmdline += " root=/dev/vda rw rootfstype=ext4"
        if args.virtio_cmdline:
            # For kernels without ACPI: the disk is on the command line and
            # the CPUs and interrupt routing come from the MP table. (With
            # ACPI on, the FADT is hardware-reduced, so Linux has no legacy
            # PIC and never maps ISA IRQ 5 for a command-line device: its
            # probe fails with -EINVAL. A DSDT device gets its GSI mapped.)
            cmd.append("--virtio-cmdline")
            cmdline += " acpi=off"
    else:
        cmd += ["--initrd", args.initrd]
    if args.xapic:
        cmdline += " nox2apic"
    vde_plug = None
    if args.net_dhcp and args.net_vde_nat:
        if not shutil.which("vde_plug"):
            print("SKIP: no vde_plug (scripts/install-deps.sh: vdeplug, libvdeplug-slirp)")
            return SKIP
        vde_dir = tempfile.TemporaryDirectory(prefix="vmm-linux-vde-")
        sw = os.path.join(vde_dir.name, "nat")
        vde_plug = subprocess.Popen(["vde_plug", "switch://" + sw, "slirp:///v4"],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        for _ in range(300):
            if os.path.exists(os.path.join(sw, "ctl")) or vde_plug.poll() is not None:
                break
            time.sleep(0.01)
        if not os.path.exists(os.path.join(sw, "ctl")):
            vde_plug.kill()
            print("FAIL: vde_plug made no switch at " + sw)
            return 1
        cmd += ["--net", "vde,sock=" + sw]
        cmdline += " ip=dhcp"
    elif args.net_dhcp:
        cmd += ["--net", "user"]
        cmdline += " ip=dhcp"
    cmd += ["--cpus", str(args.cpus), "--mem", args.mem, "--timeout", str(args.timeout),
            "--cmdline", cmdline]
    expect_status = 4 if args.pvm else 0
    if args.virtio_cmdline:
        # Without ACPI there is no pvpanic device (it is announced in the
        # DSDT) and no S5: a panic reboots (panic=-1: reset, status 3), and
        # a power-off halts until vmm's --timeout ends it (status 5).
        expect_status = 3 if args.pvm else 5
        if not args.pvm:
            args.timeout = min(args.timeout, 120)
            cmd[cmd.index("--timeout") + 1] = str(args.timeout)
    print(f"boot_test: host KVM is {'PVM' if args.pvm else 'not PVM'}: expecting exit "
          f"status {expect_status} ({'pvpanic after /init dies' if args.pvm else 'ACPI power-off from /init'})")
    print("boot_test: " + " ".join(repr(c) if " " in c else c for c in cmd), flush=True)

    if args.log:
        log = open(args.log, "w")
    else:
        log = tempfile.NamedTemporaryFile("w", prefix="vmm-linux-boot-", suffix=".log",
                                          delete=False)
    stones = milestones(args.cpus, bool(args.root_disk), acpi=not args.virtio_cmdline,
                        net_dhcp=args.net_dhcp, root_9p=args.root_9p)
    seen = {}  # name -> (host seconds, guest printk time or None)
    lines = []
    printk_time = re.compile(r"^\[\s*(\d+\.\d+)\]")

    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    # The vmm enforces --timeout itself; this is only a backstop.
    killer = threading.Timer(args.timeout + 60, proc.kill)
    killer.start()
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            now = time.monotonic() - start
            lines.append(line)
            log.write(line + "\n")
            log.flush()
            if not args.quiet:
                print("  | " + line, flush=True)
            for name, rx, _ in stones:
                if name not in seen and re.search(rx, line):
                    m = printk_time.match(line)
                    seen[name] = (now, float(m.group(1)) if m else None)
                    print(f"boot_test: {now:7.1f} s  {name}", flush=True)
        status = proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    total = time.monotonic() - start
    if vde_plug:
        vde_plug.terminate()
        vde_plug.wait()
        vde_dir.cleanup()

    failures = []
    for name, _, required in stones:
        if required and name not in seen:
            failures.append(f"missing in the kernel log: {name}")
    if args.pvm:
        if "kernel panic" not in seen:
            failures.append("no kernel panic after /init (expected on PVM hosts)")
    else:
        if "user space" not in seen:
            failures.append("/init did not print 'vmm-guest: init running'")
    x2apic = [l for l in lines if re.search(r"x2apic enabled|APIC routing to .*x2apic", l)]
    if args.xapic and x2apic:
        failures.append("nox2apic, but the kernel switched to x2APIC: " + x2apic[0])
    if status != expect_status:
        failures.append(f"vmm exit status {status}, expected {expect_status}")
    bad = [l for l in lines if re.search(r"ACPI Error|ACPI BIOS Error|BUG:|WARNING:|Oops|"
                                         r"EXT4-fs error|I/O error|9pnet.*(error|fail)|virtio_mmio.*(failed|error)|"
                                         r"virtio_net.*(failed|error)|IP-Config: (Retrying|Auto-configuration of network failed)", l)]
    if bad:
        failures.append("kernel reported problems:\n      " + "\n      ".join(bad[:10]))
    if args.root_9p:
        with open(os.path.join(share, "host-file")) as f:
            if f.read() != "from the host\n":
                failures.append("the share's host-file changed")
        tmpdir.cleanup()
    if overlay:
        err = check_image(overlay)
        if err:
            failures.append(err)
        else:
            print("boot_test: qemu-img check: the overlay the guest wrote to is clean")
        tmpdir.cleanup()

    print()
    print(f"boot_test: milestones (host s since vmm start / guest printk s), console log: {log.name}")
    for name, _, _ in stones:
        if name in seen:
            host, guest = seen[name]
            g = f"{guest:8.2f}" if guest is not None else "       -"
            print(f"  {host:7.1f}  {g}  {name}")
        else:
            print(f"        -         -  {name} (not seen)")
    print(f"  {total:7.1f}         -  vmm exited with status {status}")
    if failures:
        if args.quiet:
            print("boot_test: last console lines:")
            for l in lines[-40:]:
                print("  | " + l)
        for f in failures:
            print("FAIL: " + f)
        return 1
    if not args.log:
        os.unlink(log.name)  # kept only when the test fails
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
