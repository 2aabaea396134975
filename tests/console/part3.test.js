// Load balancing built by clicking (target group, load balancer, listener, with AWS's
// refusals for bad input), then the seed lab's Part 3, blue/green by hand: blue behind
// the target group, green attached to it ("attach green"), then blue set to 0 — watched
// on the target group's page: both versions' targets, blue's draining and leaving.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {
  withLab, markNoReload, assertNoReload, screenshot, waitFor, waitText, admitPort,
} = require("./harness");

const BETA = "Welcome to the A project beta";

/** GET / through the load balancer's own listener (the page's "Open" link). */
async function throughLb(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

/** Creates a group in the groups page's form; lands on its page. */
async function createGroup(page, d, { name, template, tag, targetGroup }) {
  await page.goto(d.endpoint + "/console/groups");
  await page.click("#create-group summary");
  const g = page.locator("#create-group");
  await g.locator("input[name=AutoScalingGroupName]").fill(name);
  await g.locator("select[name=LaunchTemplateName]").selectOption(template);
  const subnets = g.locator("input[name=Subnet]");
  await subnets.nth(0).check();
  await subnets.nth(1).check();
  for (const f of ["MinSize", "DesiredCapacity", "MaxSize"]) await g.locator(`input[name=${f}]`).fill("1");
  await g.locator("input[name=NameTag]").fill(tag);
  if (targetGroup) await g.locator("select[name=TargetGroupARNs]").selectOption({ label: targetGroup });
  await g.locator("button.primary").click();
  await page.waitForURL(new RegExp(`/console/groups/${name}$`));
}

test("load balancing by clicking, then Part 3 by clicking: attach green, set blue to 0", async () => {
  await withLab(async (d, page, b) => {
    const lab = await d.api("/_shoal/api/lab?stack=false", "POST");
    await admitPort(d, lab.security_groups.web, 8080); // the listener made below
    // The two templates (made by clicking in the launch template test).
    for (const [name, image] of [["exercise-launch-template", "exercise-image"],
      ["exercise-launch-template-beta", "exercise-image-beta"]]) {
      await d.query({ Version: "2016-11-15", Action: "CreateLaunchTemplate", LaunchTemplateName: name,
        "LaunchTemplateData.ImageId": lab.images[image], "LaunchTemplateData.InstanceType": "t2.micro",
        "LaunchTemplateData.SecurityGroupId.1": lab.security_groups.web });
    }

    // The target group (Part 2, step 1). A name AWS refuses first: its error, nothing made.
    await page.goto(d.endpoint + "/console/target-groups");
    await markNoReload(page);
    await page.click("#create-target-group summary");
    const tgForm = page.locator("#create-target-group");
    await tgForm.locator("input[name=Name]").fill("exercise_target_group");
    await tgForm.locator("input[name=Port]").fill("3000");
    await tgForm.locator("input[name=HealthCheckPath]").fill("/health");
    await tgForm.locator("input[name=HealthCheckIntervalSeconds]").fill("5");
    await tgForm.locator("input[name=HealthCheckTimeoutSeconds]").fill("4");
    await tgForm.locator("input[name=HealthyThresholdCount]").fill("2");
    await tgForm.locator("input[name=UnhealthyThresholdCount]").fill("2");
    await tgForm.locator("button.primary").click();
    const tgError = tgForm.locator(".form-error");
    await tgError.waitFor({ state: "visible" });
    assert.equal(await tgError.innerText(),
      "ValidationError: Target group name 'exercise_target_group' can only contain characters that are alphanumeric characters or hyphens(-)");
    assert.match(await page.locator("[data-live=target-groups]").innerText(), /No target groups yet\./);
    await assertNoReload(page);
    await screenshot(page, "target-groups-create");
    await tgForm.locator("input[name=Name]").fill("exercise-target-group");
    await tgForm.locator("button.primary").click();
    await page.waitForURL(/\/console\/target-groups\/exercise-target-group$/);
    const tgFields = page.locator("[data-live=tg]");
    assert.match(await tgFields.innerText(),
      /Protocol:port\s+HTTP:3000[\s\S]*HTTP \/health[\s\S]*Interval\s+5 s\s+Timeout\s+4 s\s+Healthy threshold\s+2\s+Unhealthy threshold\s+2/);
    // A lab-sized deregistration delay (AWS's default is 300 s), in the attributes form.
    await page.click("#edit-attributes summary");
    await page.locator("#edit-attributes input[name='Attributes.deregistration_delay.timeout_seconds']").fill("5");
    await page.locator("#edit-attributes button.primary").click();
    await waitText(tgFields, /Deregistration delay\s+5 s/);

    // The load balancer: one subnet is refused as AWS refuses it; two zones are taken.
    await page.goto(d.endpoint + "/console/load-balancers");
    await markNoReload(page);
    await page.click("#create-load-balancer summary");
    const lbForm = page.locator("#create-load-balancer");
    await lbForm.locator("input[name=Name]").fill("exercise-lb");
    await lbForm.locator("input[name=Subnets]").nth(0).check();
    await lbForm.locator("label:has-text('default') input[name=SecurityGroups]").check();
    await lbForm.locator(`input[name=SecurityGroups][value="${lab.security_groups.web}"]`).check();
    await lbForm.locator("button.primary").click();
    const lbError = lbForm.locator(".form-error");
    await lbError.waitFor({ state: "visible" });
    assert.equal(await lbError.innerText(),
      "ValidationError: At least two subnets in two different Availability Zones must be specified");
    assert.match(await page.locator("[data-live=load-balancers]").innerText(), /No load balancers yet\./);
    await assertNoReload(page);
    await lbForm.locator("input[name=Subnets]").nth(1).check();
    await lbForm.locator("button.primary").click();
    await page.waitForURL(/\/console\/load-balancers\/exercise-lb$/);
    const lbFields = page.locator("[data-live=lb]");
    await waitText(lbFields, /State\s+active/);
    assert.match(await lbFields.innerText(), /Availability zones\s+us-east-1a, us-east-1b/);
    assert.match(await lbFields.innerText(), /Security groups\s+(default, web|web, default)/);
    assert.match(await lbFields.innerText(), /No listeners\./);

    // Its listener, forwarding to the target group (the form is open: none yet).
    const listenerForm = page.locator("#add-listener");
    await listenerForm.locator("input[name=Port]").fill("70000");
    await listenerForm.locator("select[name=TargetGroupArn]").selectOption({ label: "exercise-target-group" });
    await listenerForm.locator("button.primary").click();
    await listenerForm.locator(".form-error").waitFor({ state: "visible" });
    assert.match(await listenerForm.locator(".form-error").innerText(),
      /^ValidationError: 1 validation error detected: Value '70000' at 'port' failed to satisfy constraint/);
    await listenerForm.locator("input[name=Port]").fill("8080");
    await listenerForm.locator("button.primary").click();
    await waitText(lbFields, /HTTP:8080\s+forward to exercise-target-group/);
    const open = await lbFields.locator("a[href^='http://127.']").getAttribute("href");
    assert.equal((await throughLb(open)).status, 503, "no targets yet: AWS's 503");
    await screenshot(page, "load-balancer-created");

    // Part 3, step 1: EXERCISE-GROUP-BLUE, Name tag propagated, capacity 1, attached to
    // the target group; the load balancer serves the old version.
    await createGroup(page, d, { name: "EXERCISE-GROUP-BLUE", template: "exercise-launch-template",
      tag: "exercise-group-blue", targetGroup: "exercise-target-group" });
    const blueLb = page.locator("[data-live=load-balancing]");
    await waitText(blueLb, /exercise-target-group\s+InService/, 30000);
    const blueInstances = page.locator("[data-live=group-instances]");
    await waitText(blueInstances, /i-[0-9a-f]+\s+InService/, 30000);
    const blue = (await blueInstances.innerText()).match(/i-[0-9a-f]+/)[0];
    await waitFor("blue serving", async () => (await throughLb(open)).body.startsWith(
      `Welcome to the A project (instance ${blue} in us-east-1`), 60000, 250);

    // Step 4: EXERCISE-GROUP-GREEN from the beta template, then "attach green" on its page.
    await createGroup(page, d, { name: "EXERCISE-GROUP-GREEN", template: "exercise-launch-template-beta",
      tag: "exercise-group-green" });
    await markNoReload(page);
    const greenLb = page.locator("[data-live=load-balancing]");
    assert.match(await greenLb.innerText(), /Not attached to any target group\./);
    await page.click("#attach-target-group summary");
    await page.locator("#attach-target-group select[name=TargetGroupARNs]").selectOption({ label: "exercise-target-group" });
    await page.locator("#attach-target-group button.primary").click();
    await waitText(greenLb, /exercise-target-group\s+(Adding|Added|InService)/);
    const greenInstances = page.locator("[data-live=group-instances]");
    await waitText(greenInstances, /i-[0-9a-f]+\s+InService/, 30000);
    const green = (await greenInstances.innerText()).match(/i-[0-9a-f]+/)[0];
    await waitText(greenLb, /exercise-target-group\s+InService/, 30000);
    await assertNoReload(page);
    await screenshot(page, "group-attached");

    // The target group's page, in a second tab, shows both versions' targets healthy.
    const tgPage = await b.context.newPage();
    tgPage.on("pageerror", (e) => b.errors.push(e.message));
    await tgPage.goto(d.endpoint + "/console/target-groups/exercise-target-group");
    await markNoReload(tgPage);
    const targets = tgPage.locator("[data-live=targets]");
    const row = (id) => targets.locator(`tr:has(a[href="/console/instances/${id}"])`);
    await waitText(row(green), /\shealthy\s/, 60000);
    await waitText(row(blue), /\shealthy\s/, 60000);
    assert.match(await tgPage.locator("[data-live=tg]").innerText(),
      /Auto Scaling groups\s+(EXERCISE-GROUP-BLUE, EXERCISE-GROUP-GREEN|EXERCISE-GROUP-GREEN, EXERCISE-GROUP-BLUE)/);
    const seen = new Set();
    await waitFor("both versions through the load balancer", async () => {
      const r = await throughLb(open);
      assert.equal(r.status, 200, r.body);
      seen.add(r.body.startsWith(BETA) ? "beta" : "A");
      return seen.size === 2;
    }, 20000, 50);
    await screenshot(tgPage, "target-group-both");

    // Step 5: "set blue to 0" on blue's page; on the target group's page blue's target
    // drains, then leaves; only green's remains, healthy.
    await page.goto(d.endpoint + "/console/groups/EXERCISE-GROUP-BLUE");
    await page.click("#edit-capacity summary");
    const cap = page.locator("#edit-capacity");
    for (const f of ["DesiredCapacity", "MinSize", "MaxSize"]) await cap.locator(`input[name=${f}]`).fill("0");
    await cap.locator("button.primary").click();
    await waitText(page.locator("[data-live=details]"), /Desired capacity\s+0\s+Minimum\s+0\s+Maximum\s+0/);
    await waitText(row(blue), /draining\s+Target\.DeregistrationInProgress/, 30000);
    await screenshot(tgPage, "target-group-draining");
    for (let i = 0; i < 5; i++) {
      assert.match((await throughLb(open)).body, new RegExp(`^${BETA}`), "a draining target gets no new requests");
    }
    await waitFor("blue gone from the target group", async () => (await row(blue).count()) === 0, 30000);
    await waitText(targets, new RegExp(`^[^]*${green}\\s+3000\\s+us-east-1[ab]\\s+healthy[^]*$`));
    assert.equal(((await targets.innerText()).match(/i-[0-9a-f]+/g) || []).length, 1, "only green's target");
    await assertNoReload(tgPage);
    assert.match((await throughLb(open)).body, new RegExp(`^${BETA}`));
    await screenshot(tgPage, "target-group-green");
    await waitText(page.locator("[data-live=group-instances]"), /No instances\./, 30000);
    await tgPage.close();
  });
});
