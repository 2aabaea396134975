// A real Shoal daemon (daemon.js) and a real headless Chromium for the console's browser
// tests. Chromium is Debian's, started with a fresh profile and no background
// networking. Every wait is bounded.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");
const { chromium } = require("playwright-core");
const { Daemon, waitFor, sleep } = require("./daemon");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "artifacts");

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
  let failed = false;
  try {
    b = await browser();
    await fn(d, b.page, b);
    assert.deepEqual(b.errors, [], "no script errors on the page");
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (b) await b.close();
    // A failing test's own error comes first: a teardown error after it is only logged.
    await d.stop().catch((e) => {
      if (!failed) throw e;
      console.error(`teardown after the failure: ${e.stack}`);
    });
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
 * Opens `port` of security group `group` to anywhere: the host reaches a listener there
 * (in VPC networks security groups are enforced, and the lab's `web` admits 80 and 3000).
 */
async function admitPort(d, group, port) {
  await d.query({ ...EC2, Action: "AuthorizeSecurityGroupIngress", GroupId: group,
    "IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": String(port),
    "IpPermissions.1.ToPort": String(port), "IpPermissions.1.IpRanges.1.CidrIp": "0.0.0.0/0" });
}

/**
 * The lab up to Part 2, step 1, made with the AWS API: step 1's images (`?stack=false`),
 * `exercise-launch-template` (t2.micro, exercise-key, web and ssh), `exercise-target-group`
 * (HTTP:3000, `GET /health`, plus `tgParams`) and `exercise-lb` in two zones with an
 * HTTP:8080 listener forwarding to it (`web` admits 8080 too). Returns every id.
 */
async function loadBalancedLab(d, tgParams = {}) {
  const lab = await d.api("/_shoal/api/lab?stack=false", "POST");
  await admitPort(d, lab.security_groups.web, 8080);
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
  xmlPick, xmlAll, loadBalancedLab, admitPort, EC2, ELB, ASG, ARTIFACTS,
};
