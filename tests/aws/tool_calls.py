"""The calls the tools make (Terraform, Ansible, the JavaScript and Rust SDK tests), kept in
tests/tool-calls.txt: each tool suite ends by reading its daemon's /metrics and fails if
any call was answered as an unknown action or service, or if the tool made a call the
list lacks (a new call is added to the list on purpose, so the surface the tools need is
reviewed, and stays implemented). SHOAL_RECORD_TOOL_CALLS=1 adds new calls to the list
instead of failing on them (refusals as unknown still fail)."""
import os
import re
import urllib.request
from pathlib import Path

from harness import Daemon

LIST = Path(__file__).resolve().parent.parent / "tool-calls.txt"
# Codes AWS answers for an action or service the endpoint does not know, per protocol.
UNKNOWN = {"InvalidAction", "UnknownOperationException", "UnknownOperation", "UnknownService",
           "InvalidService", "NotImplemented"}
SAMPLE = re.compile(r'^(shoal_api_(?:requests|errors)_total)\{(.*)\} (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def listed():
    """{(service, action)} of the list."""
    out = set()
    for line in LIST.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            assert len(words) == 2, f"{LIST.name}: bad line {line!r}"
            out.add((words[0], words[1]))
    return out


def seen(endpoint):
    """({(service, action)} requested, [(service, action, code)] refused as unknown) per /metrics."""
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as r:
        text = r.read().decode()
    calls, unknown = set(), []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or float(m.group(3)) == 0:
            continue
        labels = dict(LABEL.findall(m.group(2)))
        calls.add((labels["service"], labels["action"]))
        if m.group(1) == "shoal_api_errors_total" and labels["code"] in UNKNOWN:
            unknown.append((labels["service"], labels["action"], labels["code"]))
    return calls, unknown


def check(endpoint, suite):
    """Fails if `suite`'s daemon at `endpoint` answered a call as unknown or saw a call
    that tests/tool-calls.txt lacks."""
    calls, unknown = seen(endpoint)
    new = sorted(calls - listed())
    if new and os.environ.get("SHOAL_RECORD_TOOL_CALLS") == "1":
        head = [l for l in LIST.read_text().splitlines() if l.startswith("#")]
        body = sorted(f"{s} {a}" for s, a in listed() | set(new))
        LIST.write_text("\n".join(head + body) + "\n")
        new = []
    assert not unknown, f"{suite} made calls Shoal answered as unknown: {sorted(unknown)}"
    assert not new, (f"{suite} made calls that {LIST.name} does not list: "
                     + ", ".join(f"{s} {a}" for s, a in new)
                     + f". Add each as a `service action` line to tests/{LIST.name} (after checking"
                     " Shoal implements it as AWS does).")


def checked_daemon(suite, *args):
    """A tool suite's fixture body: a daemon, whose calls are checked after the tests."""
    d = Daemon(*args)
    try:
        yield d
        check(d.endpoint, suite)
    finally:
        d.close()
