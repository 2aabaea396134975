"""A real Shoal daemon for tests, driven like a user: aws CLI, boto3 and `shoal`.

Each Daemon gets a fresh data dir, a free port (127.0.0.1:0) and a loopback /24 of its
own, claimed with a lock file so parallel test runs never share addresses. stop() resets
the daemon (every instance process killed), stops it, and kills by PID anything of its
still carrying its endpoint marker (in its own network namespaces: suites side by side in
namespaces of their own may have the same port): nothing a test started outlives it.
"""
import fcntl
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import conformance

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHOAL = os.environ.get("SHOAL_BIN") or str(ROOT / "target" / "debug" / "shoal")
VENV_BIN = Path(os.environ.get("SHOAL_VENV", ROOT / ".venv")) / "bin"
AWS = str(VENV_BIN / "aws") if (VENV_BIN / "aws").exists() else "aws"
POOL_LOCKS = Path(tempfile.gettempdir()) / "shoal-test-pools"


def claim_pool():
    """A loopback /24 no other test run holds, and the lock file that holds it."""
    POOL_LOCKS.mkdir(exist_ok=True)
    for a in range(100, 200):
        for b in range(0, 256, 1):
            f = open(POOL_LOCKS / f"{a}.{b}.lock", "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return f"127.{a}.{b}.0/24", f
            except BlockingIOError:
                f.close()
    raise RuntimeError("no free loopback pool")


def wait_for(what, check, timeout=30.0, interval=0.1):
    """Polls check() until it returns a truthy value; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def process_gone(pid):
    """Whether process `pid` has exited (a zombie not yet reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def port_closed(endpoint):
    """Whether nothing accepts connections at an http://host:port endpoint."""
    import socket
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return False
    except OSError:
        return True


def http_get(url, timeout=5.0):
    """(status, body) of a GET; status 0 when the connection fails. The timeout outlasts
    two SYN retransmissions (1 s, then 3 s), so one lost packet on a busy machine is not
    a failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception:  # noqa: BLE001
        return 0, ""


class Lines:
    """A process's output read by a thread, so waits on it stay bounded (select() cannot
    see lines Python has already buffered, and readline() alone could block forever)."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        self.text = ""
        def pump():
            for line in stream:
                self.queue.put(line)
        threading.Thread(target=pump, daemon=True).start()

    def until(self, check, what, timeout):
        """Reads lines until check(all text so far, from the last call on) holds; returns
        that text. Fails after `timeout` seconds."""
        self.text = ""
        deadline = time.monotonic() + timeout
        while not check(self.text):
            left = deadline - time.monotonic()
            try:
                self.text += self.queue.get(timeout=max(0.01, left))
            except queue.Empty:
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {self.text[-2000:]!r}")
        return self.text


def namespace_id(path):
    """(device, inode) of the namespace a `/proc/<pid>/ns/*` link or an nsfs mount names."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def net_namespace(pid):
    """The network namespace of process `pid` ("self" for this one), as `namespace_id`."""
    return namespace_id(f"/proc/{pid}/ns/net")


def mounts_of_type(prefix, fstype):
    """Mount points under `prefix` (a path ending in /) of file system type `fstype`."""
    with open("/proc/self/mounts") as f:
        return [fields[1] for fields in (line.split() for line in f)
                if fields[1].startswith(prefix) and fields[2] == fstype]


def fnv1a(text):
    """32-bit FNV-1a of `text`, as the daemon names what it makes per data dir (its cgroup
    scope, its public-address table)."""
    digest = 0x811C9DC5
    for b in text.encode():
        digest = ((digest ^ b) * 0x01000193) & 0xFFFFFFFF
    return digest


class Daemon:
    def __init__(self, *extra_args, data_dir=None, pool=None, command="server", listen="127.0.0.1:0",
                 sweep_namespaces=True):
        self.command = command  # or "up": the daemon that `shoal up` starts itself
        # The VPC suites check themselves that a clean stop leaves no namespace behind.
        self.sweep_namespaces = sweep_namespaces
        self.listen = listen
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="shoal-test-")
        if pool is None:
            self.pool, self.pool_lock = claim_pool()
        else:
            self.pool, self.pool_lock = pool
        self.extra_args = extra_args
        # Every response the aws CLI and boto3 get from it is checked against botocore's
        # models (conformance.py); close() fails on any violation recorded here.
        self.conformance_log = str(Path(self.data_dir) / "conformance.jsonl")
        self.aws_config = Path(self.data_dir) / "aws-config"
        self.aws_config.write_text("[default]\nregion = us-east-1\n\n"
                                   "[plugins]\nshoal_conformance = conformance\n")
        self.proc = None
        self.endpoints = []  # every endpoint it has had: its instances carry one as a marker
        self.start()

    def start(self):
        log = open(Path(self.data_dir) / "daemon.log", "a")
        args = [SHOAL, self.command, "--listen", self.listen, "--data-dir", self.data_dir,
                "--address-pool", self.pool, "--cpu-sample-interval", "1", "--stop-grace", "2",
                *self.extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        m = re.search(r"http://([0-9.]+:[0-9]+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"shoal did not start: {line!r}; log: {self.log()}")
        self.endpoint = f"http://{m.group(1)}"
        self.endpoints.append(self.endpoint)

    def log(self):
        return (Path(self.data_dir) / "daemon.log").read_text()[-4000:]

    def read_stdout_until(self, marker, timeout=120):
        """The daemon's standard output after its first line, up to the line holding
        `marker` (bounded: fails after `timeout` seconds)."""
        if not hasattr(self, "stdout_lines"):
            self.stdout_lines = Lines(self.proc.stdout)
        return self.stdout_lines.until(lambda text: marker in text, f"{marker!r} on stdout", timeout)

    # -- driving it ----------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_PAGER": "", "SHOAL_ENDPOINT": self.endpoint,
            # The CLI loads conformance.py as a plugin (imported from this directory).
            "AWS_CONFIG_FILE": str(self.aws_config), conformance.LOG_ENV: self.conformance_log,
            "PYTHONPATH": os.pathsep.join(p for p in [str(HERE), env.get("PYTHONPATH")] if p),
        })
        env.pop("AWS_PROFILE", None)
        return env

    def aws(self, *args, check=True):
        """Runs the aws CLI; returns parsed JSON output (or None for empty output)."""
        r = subprocess.run([AWS, *args, "--output", "json"], env=self.env(), capture_output=True,
                           text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {r.stderr}")
        if not check:
            return r
        return json.loads(r.stdout) if r.stdout.strip() else None

    def aws_error(self, *args):
        """Runs an aws CLI call that must fail; returns (error code, message)."""
        r = self.aws(*args, check=False)
        assert r.returncode != 0, f"aws {' '.join(args)} unexpectedly succeeded: {r.stdout}"
        m = re.search(r"An error occurred \(([^)]+)\).*?: (.*)", r.stderr)
        assert m, r.stderr
        return m.group(1), m.group(2).strip()

    def boto(self, service, region_name="us-east-1", **kwargs):
        import boto3
        return self.watch(boto3.client(service, endpoint_url=self.endpoint, region_name=region_name,
                                       aws_access_key_id="test", aws_secret_access_key="test", **kwargs))

    def watch(self, client):
        """Checks every response `client` gets against botocore's model (conformance.py)."""
        return conformance.watch(client, self.conformance_log)

    def conformance_violations(self):
        return conformance.read_violations(self.conformance_log)

    def shoal(self, *args, timeout=60, input=None):
        return subprocess.run([SHOAL, "--endpoint", self.endpoint, *args], capture_output=True,
                              text=True, timeout=timeout, input=input)

    def api(self, path, method="GET"):
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    @property
    def pid(self):
        return self.proc.pid

    def base_image(self):
        """Shoal's base image (Amazon's other public images are copies of it)."""
        return self.aws("ec2", "describe-images", "--owners", "amazon", "--filters",
                        "Name=name,Values=al2023-ami-shoal-base-kernel-default-x86_64")["Images"][0]["ImageId"]

    def web_group(self, region="us-east-1"):
        """The lab's `web` security group (HTTP: ports 80 and 3000 from anywhere) in the
        region's default VPC. With VPC networks security groups are enforced as on AWS: the
        default group admits only its own members, so what the host (the internet) reaches,
        instances and load balancers, is launched in a group such as this."""
        return self.admitting_group("web", (80, 3000), region, description="HTTP")

    def admitting_group(self, name, ports, region="us-east-1", description=None):
        """A security group `name` of the region's default VPC admitting TCP `ports` from
        anywhere (made, or completed, on first use)."""
        ec2 = self.boto("ec2", region_name=region)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                      {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
        group = found[0]["GroupId"] if found else ec2.create_security_group(
            GroupName=name, Description=description or name, VpcId=vpc)["GroupId"]
        admitted = {(p.get("FromPort"), p.get("ToPort")) for p in (found[0]["IpPermissions"] if found else [])
                    if any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))}
        wanted = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                  for port in ports if (port, port) not in admitted]
        if wanted:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=wanted)
        return group

    def isolation_mode(self):
        """`container` or `process`: what this daemon's instances are (SHOAL_ISOLATION)."""
        return self.api("/_shoal/health")["isolation_mode"]

    def instance(self, instance_id):
        return self.aws("ec2", "describe-instances", "--instance-ids", instance_id)["Reservations"][0]["Instances"][0]

    def wait_state(self, instance_id, state, timeout=30):
        return wait_for(f"{instance_id} {state}", lambda: self.instance(instance_id)["State"]["Name"] == state, timeout)

    # -- stopping ------------------------------------------------------------------
    def kill9(self):
        """Kills the daemon like a crash: instances stay running."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def net_namespaces(self):
        """The network namespaces this daemon's processes live in: its own (this test's)
        and those it made under its data dir (its VPCs' routers and instances)."""
        own = {net_namespace("self")}
        for point in mounts_of_type(os.path.realpath(self.data_dir) + "/", "nsfs"):
            try:
                own.add(namespace_id(point))
            except OSError:
                pass
        return own

    def marked_pids(self):
        """Every process of this daemon's instances: those carrying one of its endpoint
        markers (also those started before a restart on another port) in one of its
        network namespaces, and each instance's init, whose command line names an
        instance directory under this daemon's data dir. The namespace matters: suites
        run side by side in namespaces of their own, where another daemon (and the aws
        CLI driving it) can have the same 127.0.0.1 port and so the same marker."""
        needles = {f"SHOAL_ENDPOINT={e}".encode() for e in self.endpoints}
        namespaces = self.net_namespaces()
        init = [b"instance-init", os.path.join(self.data_dir, "instances").encode()]
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    marked = bool(needles & set(f.read().split(b"\0")))
                marked = marked and net_namespace(entry) in namespaces
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
                if marked or (init[0] in args and any(a.startswith(init[1]) for a in args)):
                    pids.append(int(entry))
            except OSError:
                pass
        return pids

    def stop(self):
        """Resets and stops the daemon if it still runs (a test may have stopped it with
        `shoal down`), then kills by PID every instance process left."""
        if self.proc and self.proc.poll() is None:
            try:
                self.api("/_shoal/reset", method="POST")
            except Exception:  # noqa: BLE001 - still stop everything below
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in self.marked_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def cgroup_scopes(self):
        """This daemon's cgroup scope in every mounted hierarchy: `shoal-<fnv1a of the
        data dir>`, as the daemon names it, under each hierarchy's root."""
        name = f"shoal-{fnv1a(self.data_dir):08x}"
        root = Path("/sys/fs/cgroup")
        found = [root / name] if (root / name).is_dir() else []
        if root.is_dir():
            found += [h / name for h in root.iterdir() if (h / name).is_dir()]
        return found

    def sweep_vpc_networks(self, prefix):
        """The VPC networks of instances that outlived the daemon: their namespaces and
        their VPCs' routers, unmounted once the instances are killed so that the kernel
        frees them (a router takes its link to the host and the route over it along);
        and, after a kill -9 with no restart, the daemon's public-address table."""
        for point in mounts_of_type(prefix, "nsfs"):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        if shutil.which("nft"):
            for root in {str(Path(self.data_dir) / "vpcnet"), prefix + "vpcnet"}:
                subprocess.run(["nft", "delete", "table", "ip", f"shoal_{fnv1a(root):08x}"], check=False,
                               capture_output=True)

    def sweep_leftovers(self):
        """What a daemon killed without a restart cannot clean up itself: container
        instances still running (found through runc's state in this data dir, killed
        by their init's PID only if that process is still in this daemon's cgroup
        scope), its instances' overlay disks still mounted, and the empty cgroups of
        its instances and scope, in every hierarchy."""
        scopes = self.cgroup_scopes()
        scope_names = {s.name for s in scopes}
        runc_root = Path(self.data_dir) / "container" / "runc"
        for state in runc_root.glob("*/state.json"):
            try:
                pid = int(json.loads(state.read_text()).get("init_process_pid") or 0)
                with open(f"/proc/{pid}/cgroup") as f:
                    ours = any(n in f.read() for n in scope_names)
            except (OSError, ValueError):
                continue
            if pid > 1 and ours:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        # Instances' overlay disks under the data dir, which stay mounted while their
        # instances outlive the daemon: deepest first, lazily.
        prefix = os.path.realpath(self.data_dir) + "/"
        for point in sorted(mounts_of_type(prefix, "overlay"), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        if self.sweep_namespaces:
            self.sweep_vpc_networks(prefix)
        for scope in scopes:
            # Deepest first; rmdir removes only empty cgroups, so a live one stays.
            for d in sorted((p for p in scope.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.02)  # a killed init leaves its cgroup a moment later
            try:
                scope.rmdir()
            except OSError:
                pass

    def close(self):
        """Stops the daemon and removes its data dir; then fails if any response broke
        AWS's wire model (unless the test is already failing: that error comes first)."""
        violations = self.conformance_violations()
        self.stop()
        self.sweep_leftovers()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.pool_lock.close()
        if violations and sys.exc_info()[0] is None:
            raise AssertionError(f"{len(violations)} response(s) do not match AWS's wire model:\n  "
                                 + "\n  ".join(violations))
