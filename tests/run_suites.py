"""Runs pytest suites side by side, each file in a network namespace of its own.

    run_suites.py [--jobs N] [--record] FILE... [-- PYTEST-ARGS...]

Every file is one `pytest FILE` run inside a fresh network namespace (`unshare --net`,
its loopback brought up): the daemons a suite starts there have their own loopback
addresses, ports, routes, VPC links and packet-filter tables, so two suites never meet,
and nothing a suite does touches the host's own network. Files are handed to N workers
longest first (by the seconds in `durations.txt` beside this script; a file not listed
there goes first), so the run ends about when its longest file does. A file with the line
`# run_suites: alone` (checks that need a whole CPU for an instance) runs with nothing
beside it, before the others.

Each file's output is printed whole when it ends (never interleaved), then a summary.
The exit status is 1 if any file failed. `--record` writes the files' times back to
`durations.txt`. Where namespaces cannot be made (not root), the files run one by one in
the current namespace, as plain pytest would, and this is said.

Every run is started in a session of its own and, if this script is interrupted, stopped
by its process group (the PIDs this script started), then waited for.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DURATIONS = Path(__file__).resolve().parent / "durations.txt"
# pytest's exit codes that are not a failure: all passed; nothing selected (`-k` that
# matches nothing in this file).
VERDICTS = {0: "passed", 5: "no tests selected"}
ALONE = "# run_suites: alone"


def known_durations():
    """{file name: seconds} from durations.txt (lines `seconds name`)."""
    out = {}
    if DURATIONS.exists():
        for line in DURATIONS.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) == 2:
                out[words[1]] = float(words[0])
    return out


def runs_alone(file):
    """Whether `file` says it must run with no other suite beside it (a line
    `# run_suites: alone`, in suites whose checks need a whole CPU for an instance)."""
    return ALONE in Path(file).read_text()


def can_unshare():
    """Why a network namespace cannot be made here, or None when it can."""
    try:
        r = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if r.returncode == 0 else (r.stderr.strip() or f"exit {r.returncode}")


class Runner:
    def __init__(self, files, alone, pytest_args, isolate):
        self.queue = list(files)
        self.pytest_args = pytest_args
        self.isolate = isolate
        self.lock = threading.Lock()
        # Signalled whenever a run ends (or stopping starts): a waiting worker looks again.
        self.changed = threading.Condition(self.lock)
        self.alone = alone
        self.running = {}       # file -> Popen
        self.results = []       # (file, exit code, seconds)
        self.stopping = False

    def command(self, file):
        pytest = [sys.executable, "-m", "pytest", file, *self.pytest_args]
        if not self.isolate:
            return pytest
        return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *pytest]

    def next_file(self):
        """The next file to run, once it may start (None when none is left): a file
        marked alone waits until nothing runs, and nothing starts beside it."""
        with self.changed:
            while True:
                if self.stopping or not self.queue:
                    return None
                alone_running = any(f in self.alone for f in self.running)
                head = self.queue[0]
                if not alone_running and not (head in self.alone and self.running):
                    self.queue.pop(0)
                    self.running[head] = None
                    return head
                self.changed.wait()

    def worker(self):
        while True:
            file = self.next_file()
            if file is None:
                return
            started = time.monotonic()
            with tempfile.TemporaryFile(mode="w+") as log:
                with self.lock:
                    if self.stopping:
                        return
                    proc = subprocess.Popen(self.command(file), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
                    self.running[file] = proc
                code = proc.wait()
                with self.lock:
                    del self.running[file]
                    self.changed.notify_all()
                seconds = time.monotonic() - started
                log.seek(0)
                output = log.read()
            with self.lock:
                self.results.append((file, code, seconds))
                verdict = VERDICTS.get(code, f"FAILED (exit {code})")
                print(f"\n===== {file}: {verdict} in {seconds:.0f} s", flush=True)
                print(output.rstrip(), flush=True)

    def stop(self):
        """Stops every run this script started (its process group), then waits for it."""
        with self.lock:
            self.stopping = True
            self.changed.notify_all()
            procs = [p for p in self.running.values() if p is not None]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def main():
    argv = sys.argv[1:]
    pytest_args = []
    if "--" in argv:
        at = argv.index("--")
        argv, pytest_args = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    def interrupted(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)

    why_not = can_unshare()
    jobs = max(1, args.jobs)
    if why_not:
        print(f"run_suites: no network namespaces here ({why_not}); the files run one by one "
              "in this namespace", flush=True)
        jobs = 1
    known = known_durations()
    # Files that run alone go first (nothing waits for them to start), then longest first.
    alone = {f for f in args.files if runs_alone(f)}
    files = sorted(args.files, key=lambda f: (f not in alone, -known.get(Path(f).name, float("inf"))))
    runner = Runner(files, alone, pytest_args, isolate=why_not is None)
    started = time.monotonic()
    threads = [threading.Thread(target=runner.worker, daemon=True) for _ in range(jobs)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=1)
    except KeyboardInterrupt:
        runner.stop()
        print("run_suites: interrupted", flush=True)
        return 130
    total = time.monotonic() - started

    failed = [r for r in runner.results if r[1] not in VERDICTS]
    print(f"\n===== {len(runner.results)} files, {len(failed)} failed, in {total:.0f} s "
          f"({jobs} at a time); by time:")
    for file, code, seconds in sorted(runner.results, key=lambda r: -r[2]):
        print(f"  {seconds:6.0f} s  {'ok    ' if code in VERDICTS else 'FAILED'}  {file}")
    if args.record:
        lines = [f"{seconds:.0f} {Path(file).name}"
                 for file, _, seconds in sorted(runner.results, key=lambda r: -r[2])]
        header = "# Seconds each suite took in its last recorded run (tests/run_suites.py --record).\n"
        DURATIONS.write_text(header + "\n".join(lines) + "\n")
    return 1 if failed or len(runner.results) < len(files) else 0


if __name__ == "__main__":
    sys.exit(main())
