// Blue/green deployments in the console: started from the form (refused first with the
// API's error), followed live through their steps and green's share of traffic, rolled
// back with the button, and a second one watched to success.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { withLab, markNoReload, assertNoReload, screenshot, waitText } = require("./harness");

/** Fills the start form and submits it; resolves once the deployment's page is open. */
async function startDeployment(page, fields) {
  const form = page.locator("#start-deployment");
  if (!(await form.evaluate((el) => el.open))) await page.click("#start-deployment summary");
  for (const [name, value] of Object.entries(fields)) {
    const el = form.locator(`[name=${name}]`);
    if ((await el.evaluate((e) => e.tagName)) === "SELECT") await el.selectOption(value);
    else await el.fill(value);
  }
  await form.locator("button.primary").click();
}

test("deployments: start from the form, watch the steps live, roll back, then succeed", async () => {
  await withLab(async (d, page) => {
    // Parts 1 and 2 as `shoal up` builds them: EXERCISE-GROUP behind exercise-lb.
    const lab = await d.api("/_shoal/api/lab", "POST");
    const beta = lab.images["exercise-image-beta"];
    await page.goto(d.endpoint + "/console/groups/EXERCISE-GROUP");
    await waitText(page.locator("[data-live=group-instances]"), /InService\s+Healthy/, 60000);

    await page.goto(d.endpoint + "/console/deployments");
    await markNoReload(page);
    const list = page.locator("[data-live=deployments]");
    assert.match(await list.innerText(), /No deployments yet\./);

    // A canary without its percentage: the API's refusal, nothing started.
    await startDeployment(page, { image_id: beta, strategy: "canary" });
    const err = page.locator("#start-deployment .form-error");
    await err.waitFor({ state: "visible" });
    assert.equal(await err.innerText(), "ValidationError: The canary strategy needs a step percentage (--percent)");
    assert.match(await list.innerText(), /No deployments yet\./);
    await assertNoReload(page);

    // Canary 50 %, each step held long enough to roll back by hand.
    await startDeployment(page, { percent: "50", step_seconds: "600", health_timeout_seconds: "120" });
    await page.waitForURL(/\/console\/deployments\/d-[A-Z0-9]{9}$/);
    const first = page.url().match(/d-[A-Z0-9]{9}$/)[0];
    await markNoReload(page);
    const fields = page.locator("[data-live=deployment]");
    const steps = page.locator("[data-live=steps]");
    const chart = page.locator("[data-live=weights]");
    const events = page.locator("[data-live=events]");
    assert.match(await fields.innerText(), /Traffic\s+exercise-lb:80/);
    assert.match(await fields.innerText(), /Blue\s+EXERCISE-GROUP exercise-target-group/);
    assert.match(await fields.innerText(), /Green\s+EXERCISE-GROUP-green exercise-target-group-green/);
    assert.match(await fields.innerText(), /Strategy\s+canary: 50% → 100%/);
    assert.match(await steps.locator("li.current").innerText(), /Green launches and its targets turn healthy/);
    // Green launches, turns healthy, and takes half the traffic: the page follows.
    await waitText(fields, /Status\s+Shifting/, 90000);
    assert.match(await fields.innerText(), /To green\s+50%/);
    assert.equal(await steps.locator("li.current").innerText(), "Step 1 of 2: 50% to green, 50% to blue");
    assert.deepEqual(await steps.locator("li.done").allInnerTexts(), ["Green launches and its targets turn healthy"]);
    await waitText(chart, /latest: 50\.0%/);
    assert.match(await events.innerText(), /Shifting\s+50%/);
    await assertNoReload(page);
    await screenshot(page, "deployment-shifting");

    // The rollback button: traffic returns to blue, green is removed, live.
    await page.locator("[data-live=rollback] button").click();
    await waitText(fields, /Status\s+RolledBack/, 60000);
    assert.match(await fields.innerText(), /Reason\s+Rollback requested by the user\./);
    assert.match(await fields.innerText(), /To green\s+0%/);
    assert.match(await steps.locator("li.stopped").last().innerText(), /^RolledBack: Rollback requested by the user\./);
    await waitText(chart, /latest: 0\.0%/);
    assert.equal(await page.locator("[data-live=rollback] button").count(), 0, "nothing left to roll back");
    await assertNoReload(page);
    await screenshot(page, "deployment-rolled-back");

    // All at once, short holds: it walks every step to Succeeded.
    await page.goto(d.endpoint + "/console/deployments");
    await startDeployment(page, { image_id: beta, strategy: "all-at-once", step_seconds: "1", drain_seconds: "1",
      health_timeout_seconds: "120" });
    await page.waitForURL(/\/console\/deployments\/d-[A-Z0-9]{9}$/);
    const second = page.url().match(/d-[A-Z0-9]{9}$/)[0];
    assert.notEqual(second, first);
    await waitText(fields, /Status\s+Succeeded/, 120000);
    assert.match(await fields.innerText(), /To green\s+100%/);
    assert.deepEqual(await steps.locator("li.done").allInnerTexts(), [
      "Green launches and its targets turn healthy", "Step 1 of 1: 100% to green, 0% to blue",
      "Blue drains (1 s)", "Done: blue is scale-to-zero"]);
    await waitText(chart, /latest: 100\.0%/);
    assert.match(await events.innerText(), /Succeeded\s+100%/);
    await screenshot(page, "deployment");

    await page.goto(d.endpoint + "/console/deployments");
    const rows = await list.locator("tbody tr").allInnerTexts();
    assert.equal(rows.length, 2);
    assert.match(rows[0], new RegExp(`^${second}\\s+Succeeded\\s+exercise-lb:80\\s+EXERCISE-GROUP → EXERCISE-GROUP-green`));
    assert.match(rows[1], new RegExp(`^${first}\\s+RolledBack\\s+exercise-lb:80[\\s\\S]*RolledBack at: Step 1 of 2`));
    await screenshot(page, "deployments");
  });
});
