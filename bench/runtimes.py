#!/usr/bin/env python3
"""Start->exit latency of the OCI runtimes on this host (issue 12's evaluation).

    sudo .venv/bin/python bench/runtimes.py --runs 20

Builds a busybox root filesystem (Debian's busybox-static) in a temporary directory and an
OCI bundle over it with the namespaces Shoal's container instances use (user, PID,
mount, UTS, IPC, cgroup; root inside mapped to host uid 100000+), then times
`<runtime> run` of `/bin/true` for each runtime found. Needs root. Prints one line per
runtime: median, p90, max in ms, or why it failed.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HOST_ID_BASE = 100000
ID_COUNT = 65536


def busybox_rootfs(root):
    busybox = shutil.which("busybox") or "/bin/busybox"
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "bin/busybox"))
    for tool in ("sh", "true", "ls", "ps", "cat", "id"):
        os.symlink("busybox", os.path.join(root, "bin", tool))


def config(args):
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": HOST_ID_BASE, "size": ID_COUNT}],
            "gidMappings": [{"containerID": 0, "hostID": HOST_ID_BASE, "size": ID_COUNT}],
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user", "cgroup")],
            "resources": {"memory": {"limit": 256 << 20}, "cpu": {"quota": 100000, "period": 100000}},
        },
    }


def measure(runtime, bundle, runs):
    times = []
    for i in range(runs):
        cid = f"bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        proc = subprocess.run([runtime, "run", "--bundle", bundle, cid],
                              capture_output=True, text=True, timeout=30)
        elapsed = (time.perf_counter() - t0) * 1000
        subprocess.run([runtime, "delete", "--force", cid], capture_output=True, timeout=30)
        if proc.returncode != 0:
            return f"fails: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
        times.append(elapsed)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    return f"median {statistics.median(times):6.1f}  p90 {p90:6.1f}  max {times[-1]:6.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (the runtimes map uids 100000+)")
    with tempfile.TemporaryDirectory() as tmp:
        # Container root (host uid 100000) must traverse the bundle to mount its rootfs.
        os.chmod(tmp, 0o755)
        busybox_rootfs(os.path.join(tmp, "rootfs"))
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config(["/bin/true"]), f)
        for runtime in ("runc", "crun"):
            path = shutil.which(runtime)
            if not path:
                print(f"{runtime:5}: not installed")
                continue
            version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
            print(f"{runtime:5} {version.splitlines()[0].split()[-1]:12}: {measure(path, tmp, a.runs)}")
        # The same exec without any runtime: the floor of forking a process.
        t = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            subprocess.run([os.path.join(tmp, "rootfs/bin/true")])
            t.append((time.perf_counter() - t0) * 1000)
        print(f"plain fork+exec   : median {statistics.median(t):6.1f} ms")


if __name__ == "__main__":
    main()
