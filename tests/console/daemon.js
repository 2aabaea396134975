// A real Shoal daemon for the node tests (the console's and the SDK for JavaScript's).
//
// Like tests/aws/harness.py: each daemon gets a fresh data dir, port 0 on 127.0.0.1 and
// a loopback /24 of its own (claimed with a lock file so parallel runs never share
// one); stop() resets it (every instance process killed), stops it by PID and kills by
// PID anything still carrying its endpoint marker in its own network namespaces, then
// unmounts what is left mounted under its data dir. Every wait is bounded.
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
const SHOAL = process.env.SHOAL_BIN || path.join(TARGET, "debug", "shoal");
const POOL_LOCKS = path.join(os.tmpdir(), "shoal-console-pools");

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/** A loopback /24 no other run holds (127.200.0.0 – 127.249.255.0), and its lock file. */
function claimPool() {
  fs.mkdirSync(POOL_LOCKS, { recursive: true });
  for (let a = 200; a < 250; a++) {
    for (let b = 0; b < 256; b++) {
      const lock = path.join(POOL_LOCKS, `${a}.${b}.lock`);
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
        return { pool: `127.${a}.${b}.0/24`, lock };
      } catch (e) {
        if (e.code !== "EEXIST") throw e;
        const owner = Number(fs.readFileSync(lock, "utf8")) || 0;
        if (owner && !alive(owner)) fs.rmSync(lock, { force: true }); // stale: retry next round
      }
    }
  }
  throw new Error("no free loopback pool");
}

/** Device and inode of the namespace a `/proc/<pid>/ns/*` link or an nsfs mount names. */
function namespaceId(p) {
  const st = fs.statSync(p);
  return `${st.dev}:${st.ino}`;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs`. */
async function waitFor(what, check, timeoutMs = 30000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

class Daemon {
  /** `extraArgs`: more `shoal server` flags (e.g. `--metric-period 3`). */
  static async start(extraArgs = []) {
    const d = new Daemon();
    await d._start(extraArgs);
    return d;
  }

  async _start(extraArgs) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-console-"));
    ({ pool: this.pool, lock: this.lock } = claimPool());
    const log = fs.openSync(path.join(this.dataDir, "daemon.log"), "a");
    this.proc = spawn(
      SHOAL,
      ["server", "--listen", "127.0.0.1:0", "--data-dir", this.dataDir, "--address-pool", this.pool,
        "--cpu-sample-interval", "1", "--stop-grace", "2", ...extraArgs],
      { stdio: ["ignore", "pipe", log] },
    );
    fs.closeSync(log);
    this.endpoint = await new Promise((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`shoal did not start; log: ${this.log()}`)), 30000);
      this.proc.stdout.on("data", (chunk) => {
        buf += chunk;
        const m = buf.match(/http:\/\/([0-9.]+:[0-9]+)/);
        if (m) {
          clearTimeout(timer);
          resolve(`http://${m[1]}`);
        }
      });
      this.proc.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`shoal exited (${code}); log: ${this.log()}`));
      });
    });
    this.proc.stdout.resume();
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dataDir, "daemon.log"), "utf8").slice(-4000);
    } catch {
      return "";
    }
  }

  /** A JSON call to Shoal's own API (`/_shoal/...`). */
  async api(p, method = "GET") {
    const r = await fetch(this.endpoint + p, { method, signal: AbortSignal.timeout(60000) });
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
    return r.json();
  }

  /** Runs `shoal --endpoint <this> ARGS…` (bounded); resolves to { code, stdout, stderr }. */
  shoal(...args) {
    return new Promise((resolve) => {
      const p = spawn(SHOAL, ["--endpoint", this.endpoint, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (c) => { stdout += c; });
      p.stderr.on("data", (c) => { stderr += c; });
      const timer = setTimeout(() => p.kill("SIGKILL"), 60000);
      p.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Starts `shoal --endpoint <this> ARGS…` and returns the child (the caller stops it). */
  spawnShoal(...args) {
    return spawn(SHOAL, ["--endpoint", this.endpoint, ...args], { stdio: "ignore" });
  }

  /** An AWS Query/EC2 call by form parameters (the service is told by `Version`); the XML. */
  async query(params) {
    const r = await fetch(this.endpoint + "/", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params),
      signal: AbortSignal.timeout(60000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${params.Action}: ${r.status} ${text}`);
    return text;
  }

  /** Every process of this daemon's instances: those carrying its endpoint marker in
   * one of its network namespaces (another daemon, in a namespace of its own, can have
   * the same 127.0.0.1 port and so the same marker), and each instance's init, whose
   * command line names a directory under its data dir. */
  markedPids() {
    const needle = `SHOAL_ENDPOINT=${this.endpoint}`;
    const instances = path.join(this.dataDir, "instances");
    const namespaces = this.netNamespaces();
    const pids = [];
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
        const args = fs.readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0");
        const init = args.includes("instance-init") && args.some((a) => a.startsWith(instances));
        const marked = env.includes(needle) && namespaces.has(namespaceId(`/proc/${entry}/ns/net`));
        if (marked || init) pids.push(Number(entry));
      } catch {
        /* gone or not ours */
      }
    }
    return pids;
  }

  /** The network namespaces this daemon's processes live in: this test's own and those
   * it mounted under its data dir (its VPCs' routers and instances). */
  netNamespaces() {
    const own = new Set([namespaceId("/proc/self/ns/net")]);
    for (const point of this.mountsUnderDataDir("nsfs")) {
      try {
        own.add(namespaceId(point));
      } catch {
        /* unmounted meanwhile */
      }
    }
    return own;
  }

  /** Mount points under this daemon's data dir (instances' disks, their network
   * namespaces), of type `fstype` if given, deepest first. */
  mountsUnderDataDir(fstype) {
    const prefix = fs.realpathSync(this.dataDir) + "/";
    const unescape = (p) => p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")
      .map((line) => {
        const [mine, theirs = ""] = line.split(" - ");
        return { point: unescape(mine.split(" ")[4] || ""), type: theirs.split(" ")[0] };
      })
      .filter((m) => m.point.startsWith(prefix) && (!fstype || m.type === fstype))
      .map((m) => m.point)
      .sort((a, b) => b.length - a.length);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      try {
        await this.api("/_shoal/reset", "POST");
      } catch {
        /* still stop everything below */
      }
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      const timeout = sleep(10000).then(() => "timeout");
      if ((await Promise.race([exited, timeout])) === "timeout") {
        this.proc.kill("SIGKILL");
        await Promise.race([exited, sleep(10000)]);
      }
    }
    if (this.endpoint) {
      for (const pid of this.markedPids()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
    // What the daemon should have released and did not (said aloud, then swept, so
    // that the data dir can go): lazily, deepest first.
    const left = fs.existsSync(this.dataDir) ? this.mountsUnderDataDir() : [];
    for (const point of left) spawnSync("umount", ["-l", point], { stdio: "ignore", timeout: 10000 });
    if (left.length) console.error(`shoal left ${left.length} mount(s) under its data dir: ${left.join(" ")}\n${this.log()}`);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    fs.rmSync(this.lock, { force: true });
  }
}

module.exports = { Daemon, waitFor, sleep };
