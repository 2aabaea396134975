// Watch it scale (seed lab Part 1, step 6, with Part 2's load balancer): `stress` in the
// group's instance, watched on the console without a reload — the CPU chart climbs past
// its target line, AlarmHigh turns ALARM, the group launches a second instance,
// which turns InService and healthy and, on the target group's page, takes traffic.
// CloudWatch's period is 3 s here (`--metric-period 3`), so AlarmHigh (3 periods above
// target) fires within seconds. The target is 40 %, not the lab's 80 %: on a machine
// shared with other work, an instance's one vCPU under `stress` may get only 60–80 %.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {
  withLab, markNoReload, assertNoReload, screenshot, waitFor, waitText, loadBalancedLab,
} = require("./harness");

/** The load balancer's URL: its page's "Open" link (its loopback address). */
async function lbUrl(d) {
  const r = await fetch(d.endpoint + "/console/load-balancers/exercise-lb", { signal: AbortSignal.timeout(5000) });
  return (await r.text()).match(/href="(http:\/\/127\.[0-9.]+:8080\/)"/)[1];
}

/** GET / through the load balancer; its status. */
async function throughLb(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await r.text();
  return r.status;
}

test("watch it scale: stress, CPU over the target, AlarmHigh in ALARM, a second instance takes traffic", async () => {
  await withLab(async (d, page) => {
    // The lab's template, load balancer and target group (health checks every 5 s).
    await loadBalancedLab(d, { HealthCheckIntervalSeconds: "5", HealthCheckTimeoutSeconds: "4",
      HealthyThresholdCount: "2", UnhealthyThresholdCount: "2" });

    // The group, by clicking: 1/1/2 across two zones, attached to the target group,
    // with the lab's target-tracking policy on average CPU (target 40 %, see above).
    await page.goto(d.endpoint + "/console/groups");
    await page.click("#create-group summary");
    const g = page.locator("#create-group");
    await g.locator("input[name=AutoScalingGroupName]").fill("EXERCISE-GROUP");
    await g.locator("select[name=LaunchTemplateName]").selectOption("exercise-launch-template");
    await g.locator("input[name=Subnet]").nth(0).check();
    await g.locator("input[name=Subnet]").nth(1).check();
    await g.locator("select[name=TargetGroupARNs]").selectOption({ label: "exercise-target-group" });
    await g.locator("input[name=TargetTracking]").check();
    await g.locator("input[name=TargetValue]").fill("40");
    // New instances count in the group's CPU after 5 s (AWS's default: the cooldown).
    await g.locator("input[name=DefaultInstanceWarmup]").fill("5");
    await g.locator("button.primary").click();
    await page.waitForURL(/\/console\/groups\/EXERCISE-GROUP$/);
    await markNoReload(page);
    assert.match(await page.locator("[data-live=details]").innerText(), /Default instance warmup\s+5 s/);

    const cpu = page.locator("[data-live=cpu]");
    const instances = page.locator("[data-live=group-instances]");
    const activities = page.locator("[data-live=activities]");
    const alarmHigh = page.locator("[data-live=policies] .alarm", { hasText: "AlarmHigh" });
    await waitText(instances, /i-[0-9a-f]+\s+InService\s+Healthy/, 30000);
    const first = (await instances.innerText()).match(/i-[0-9a-f]+/)[0];
    await waitText(cpu, /latest: \d+(\.\d)?%/, 20000);

    // The target line: 40 % of the way from the 0 % grid line to the 100 % one,
    // labelled with AlarmHigh's state (no breach yet).
    const line = await cpu.evaluate((el) => {
      const ys = [...el.querySelectorAll("line.grid")].map((l) => Number(l.getAttribute("y1")));
      const t = el.querySelector("g.threshold line.target");
      return { zero: ys[0], full: ys[ys.length - 1], target: Number(t.getAttribute("y1")),
        label: el.querySelector("g.threshold text").textContent };
    });
    assert.ok(Math.abs((line.zero - line.target) / (line.zero - line.full) - 0.4) < 0.01, JSON.stringify(line));
    assert.match(line.label, /^target 40% · AlarmHigh (OK|INSUFFICIENT_DATA)$/);
    assert.match(await alarmHigh.locator(".badge").innerText(), /^(OK|INSUFFICIENT_DATA)$/);
    assert.match(await page.locator("[data-live=policies]").innerText(),
      /TargetTracking-EXERCISE-GROUP-AlarmLow-/);

    // A quarter minute of the idle group first, so the climb shows on the chart.
    await waitFor("15 s of CPU on the chart", async () =>
      Number((await cpu.locator("svg text", { hasText: "−" }).first().textContent()).match(/−(\d+) s/)?.[1]) >= 15, 30000, 500);
    // `stress` in the instance (two hogs: its one vCPU's quota still caps it at 100 %).
    const stress = d.spawnShoal("ssh", first, "--", "stress", "--cpu", "2", "--timeout", "240");
    try {
      await waitFor("the group's CPU over its 40 % target on the chart", async () => {
        const m = (await cpu.innerText()).match(/latest: (\d+)/);
        return m && Number(m[1]) > 40;
      }, 60000);
      // AlarmHigh in ALARM, in the policies table and on the chart (shaded), at once:
      // both come from one refresh.
      await page.waitForFunction(() => {
        const high = [...document.querySelectorAll("[data-live=policies] .alarm")]
          .find((a) => a.textContent.includes("AlarmHigh"));
        const chart = document.querySelector("[data-live=cpu] g.threshold");
        return high && high.querySelector(".badge").textContent === "ALARM" &&
          chart && chart.dataset.state === "ALARM" && chart.querySelector("rect.alarm-zone") &&
          /AlarmHigh ALARM/.test(chart.textContent);
      }, null, { timeout: 60000, polling: 50 });
      await screenshot(page, "group-alarm");

      // The group launches a second instance, for the alarm, and it turns InService.
      await waitFor("a second launch", async () =>
        ((await activities.innerText()).match(/Launching a new EC2 instance/g) || []).length === 2, 60000);
      assert.match(await activities.innerText(),
        /monitor alarm TargetTracking-EXERCISE-GROUP-AlarmHigh-\S+ in state ALARM triggered policy/);
      await waitFor("two instances in service", async () =>
        ((await instances.innerText()).match(/InService\s+Healthy/g) || []).length === 2, 60000);
      const second = (await instances.innerText()).match(/i-[0-9a-f]+/g).find((i) => i !== first);
      assert.ok(second, "a new instance");
      await assertNoReload(page);
      await screenshot(page, "group-scaled");
      await page.setViewportSize({ width: 1280, height: 1320 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await screenshot(page, "readme-group", false); // docs/console.png is a copy
      await page.setViewportSize({ width: 1366, height: 900 });

      // Keep both (Part 2, step 4: minimum 2), then end the load.
      await page.click("#edit-capacity summary");
      const cap = page.locator("#edit-capacity");
      await cap.locator("input[name=DesiredCapacity]").fill("2");
      await cap.locator("input[name=MinSize]").fill("2");
      await cap.locator("button.primary").click();
      await waitText(page.locator("[data-live=details]"), /Desired capacity\s+2\s+Minimum\s+2\s+Maximum\s+2/);
      stress.kill("SIGTERM"); // the instance's init hangs up the command, as sshd does

      // The target group's page: the new instance turns healthy and takes traffic, live.
      await page.goto(d.endpoint + "/console/target-groups/exercise-target-group");
      await markNoReload(page);
      const targets = page.locator("[data-live=targets]");
      const row = targets.locator(`tr:has(a[href="/console/instances/${second}"])`);
      await waitText(row, /\shealthy\s/, 60000);
      const served = async () => Number(await row.locator(".count").innerText());
      const before = await served();
      // Requests through the load balancer, a few a second, while the page is watched.
      const url = await lbUrl(d);
      let sending = true;
      const sender = (async () => {
        const stop = Date.now() + 60000;
        while (sending && Date.now() < stop) {
          assert.equal(await throughLb(url), 200);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        await waitFor("the new instance's request count rising", async () => (await served()) >= before + 5, 20000);
        // The charts follow each CloudWatch period: requests per second, healthy hosts.
        const metrics = page.locator("[data-live=tg-metrics]");
        await waitFor("requests per second above 0 on the chart", async () => {
          const m = (await metrics.locator("figure").first().innerText()).match(/latest: (\d+(\.\d+)?) \/s/);
          return m && Number(m[1]) > 0;
        }, 30000);
        await waitText(metrics, /Healthy 2\b/, 30000);
        assert.ok(await metrics.locator("svg path.line").count() >= 2, "request and host lines drawn");
      } finally {
        sending = false;
        await sender;
      }
      await assertNoReload(page);
      await screenshot(page, "target-group-traffic");

      // The load balancer's page: its rules and its request chart.
      await page.goto(d.endpoint + "/console/load-balancers/exercise-lb");
      assert.match(await page.locator("[data-live=lb]").innerText(),
        /Rules of HTTP:8080\s+Priority\s+Conditions \(all must match\)\s+Actions\s+default\s+If no other rule applies\s+forward to exercise-target-group/);
      await waitText(page.locator("[data-live=lb-metrics]"), /Requests \d+(\.\d+)? \/s/, 30000);
      await screenshot(page, "load-balancer-traffic");
    } finally {
      stress.kill("SIGKILL");
    }
  }, { args: ["--metric-period", "3"] });
});
