// A real Shoal daemon and a real headless Chromium for the console's browser tests.
//
// Like tests/aws/harness.py: each daemon gets a fresh data dir, port 0 on 127.0.0.1 and
// a loopback /24 of its own (claimed with a lock file so parallel runs never share
// one); stop() resets it (every instance process killed), stops it by PID and kills by
// PID anything still carrying its endpoint marker. Chromium is Debian's, started with a
// fresh profile and no background networking. Every wait is bounded.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, "target");
const SHOAL = process.env.SHOAL_BIN || path.join(TARGET, "debug", "shoal");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "artifacts");
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

  /** Every process of this daemon's instances: those carrying its endpoint marker, and
   * each instance's init, whose command line names a directory under its data dir. */
  markedPids() {
    const needle = `SHOAL_ENDPOINT=${this.endpoint}`;
    const instances = path.join(this.dataDir, "instances");
    const pids = [];
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
        const args = fs.readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0");
        const init = args.includes("instance-init") && args.some((a) => a.startsWith(instances));
        if (env.includes(needle) || init) pids.push(Number(entry));
      } catch {
        /* gone or not ours */
      }
    }
    return pids;
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
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    fs.rmSync(this.lock, { force: true });
  }
}

/** Debian's Chromium, headless, with a fresh profile; returns { context, page, close }. */
async function browser(viewport = { width: 1366, height: 900 }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 30000,
  });
  context.setDefaultTimeout(20000);
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => d.accept());
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under tests/console/artifacts/. */
async function screenshot(page, name, fullPage = true) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Waits until `locator`'s text matches `re` (bounded). */
async function waitText(locator, re, timeoutMs = 20000) {
  return waitFor(`${locator} to show ${re}`, async () => re.test(await locator.innerText()), timeoutMs, 100);
}

/** Starts a daemon (with `opts.args`) and a browser for one test, and always stops both. */
async function withLab(fn, opts = {}) {
  const d = await Daemon.start(opts.args || []);
  let b;
  try {
    b = await browser();
    await fn(d, b.page, b);
    assert.deepEqual(b.errors, [], "no script errors on the page");
  } finally {
    if (b) await b.close();
    await d.stop();
  }
}

/** Marks the document so a later check can tell it was never reloaded. */
async function markNoReload(page) {
  await page.evaluate(() => { window.__noReload = "still here"; });
}

async function assertNoReload(page) {
  assert.equal(await page.evaluate(() => window.__noReload), "still here", "the page was not reloaded");
}

/** The first capture of `tag`'s text in an AWS XML answer, and every capture. */
function xmlPick(xml, tag) {
  return xml.match(new RegExp(`<${tag}>([^<]+)</${tag}>`))[1];
}
function xmlAll(xml, tag) {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]+)</${tag}>`, "g"))].map((m) => m[1]);
}

const EC2 = { Version: "2016-11-15" };
const ELB = { Version: "2015-12-01" };
const ASG = { Version: "2011-01-01" };

/**
 * The lab up to Part 2, step 1, made with the AWS API: step 1's images (`?stack=false`),
 * `exercise-launch-template` (t2.micro, exercise-key, web and ssh), `exercise-target-group`
 * (HTTP:3000, `GET /health`, plus `tgParams`) and `exercise-lb` in two zones with an
 * HTTP:8080 listener forwarding to it. Returns every id.
 */
async function loadBalancedLab(d, tgParams = {}) {
  const lab = await d.api("/_shoal/api/lab?stack=false", "POST");
  const lt = xmlPick(await d.query({ ...EC2, Action: "CreateLaunchTemplate",
    LaunchTemplateName: "exercise-launch-template", "LaunchTemplateData.ImageId": lab.images["exercise-image"],
    "LaunchTemplateData.InstanceType": "t2.micro", "LaunchTemplateData.KeyName": "exercise-key",
    "LaunchTemplateData.SecurityGroupId.1": lab.security_groups.web,
    "LaunchTemplateData.SecurityGroupId.2": lab.security_groups.ssh }), "launchTemplateId");
  const vpc = xmlPick(await d.query({ ...EC2, Action: "DescribeVpcs" }), "vpcId");
  const subnets = xmlAll(await d.query({ ...EC2, Action: "DescribeSubnets" }), "subnetId").slice(0, 2);
  const tg = xmlPick(await d.query({ ...ELB, Action: "CreateTargetGroup", Name: "exercise-target-group",
    Protocol: "HTTP", Port: "3000", VpcId: vpc, HealthCheckPath: "/health", ...tgParams }), "TargetGroupArn");
  const lb = xmlPick(await d.query({ ...ELB, Action: "CreateLoadBalancer", Name: "exercise-lb",
    "Subnets.member.1": subnets[0], "Subnets.member.2": subnets[1],
    "SecurityGroups.member.1": lab.security_groups.web }), "LoadBalancerArn");
  const listener = xmlPick(await d.query({ ...ELB, Action: "CreateListener", LoadBalancerArn: lb,
    Protocol: "HTTP", Port: "8080", "DefaultActions.member.1.Type": "forward",
    "DefaultActions.member.1.TargetGroupArn": tg }), "ListenerArn");
  return { lab, lt, vpc, subnets, tg, lb, listener };
}

module.exports = {
  Daemon, browser, screenshot, waitFor, waitText, sleep, withLab, markNoReload, assertNoReload,
  xmlPick, xmlAll, loadBalancedLab, EC2, ELB, ASG, ARTIFACTS,
};
