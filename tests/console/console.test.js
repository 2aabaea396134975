// The console in a real browser against a real daemon: the seed lab's Part 1 done by
// clicking, instance actions, AWS's errors in forms, live updates without a reload.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const {
  withLab, markNoReload, assertNoReload, screenshot, waitFor, waitText, xmlPick, loadBalancedLab, EC2, ELB, ASG,
} = require("./harness");

test("Part 1 by clicking: template, group from it, capacity edits, live activity history", async () => {
  await withLab(async (d, page) => {
    // Step 1 (the configured instance, stopped and imaged) is `shoal up`'s preparation.
    const lab = await d.api("/_shoal/api/lab?stack=false", "POST");
    const image = lab.images["exercise-image"];

    // Step 2: the launch template.
    await page.goto(d.endpoint + "/console/launch-templates");
    await page.click("#create-template summary");
    const lt = page.locator("#create-template");
    await lt.locator("input[name=LaunchTemplateName]").fill("exercise-launch-template");
    await lt.locator("select[name=ImageId]").selectOption(image);
    await lt.locator("select[name=InstanceType]").selectOption("t2.micro");
    await lt.locator("select[name=KeyName]").selectOption("exercise-key");
    await lt.locator(`input[name=SecurityGroupId][value="${lab.security_groups.web}"]`).check();
    await lt.locator(`input[name=SecurityGroupId][value="${lab.security_groups.ssh}"]`).check();
    await lt.locator("button.primary").click();
    await page.waitForURL(/\/console\/launch-templates\/lt-[0-9a-f]+$/);
    const versions = page.locator("[data-live=versions]");
    await waitText(versions, new RegExp(`1\\s+default[\\s\\S]*${image}[\\s\\S]*t2\\.micro[\\s\\S]*exercise-key[\\s\\S]*(web, ssh|ssh, web)`));
    await screenshot(page, "launch-template");

    // Step 3: the group, from the template's $Default, across two zones, 1/1/2, CPU 80 %.
    await page.goto(d.endpoint + "/console/groups");
    await page.click("#create-group summary");
    const g = page.locator("#create-group");
    await g.locator("input[name=AutoScalingGroupName]").fill("EXERCISE-GROUP");
    await g.locator("select[name=LaunchTemplateName]").selectOption("exercise-launch-template");
    await g.locator("select[name=Version]").selectOption("$Default");
    const subnets = g.locator("input[name=Subnet]");
    await subnets.nth(0).check();
    await subnets.nth(1).check();
    await g.locator("input[name=MinSize]").fill("1");
    await g.locator("input[name=DesiredCapacity]").fill("1");
    await g.locator("input[name=MaxSize]").fill("2");
    await g.locator("input[name=TargetTracking]").check();
    await g.locator("input[name=TargetValue]").fill("80");
    await g.locator("button.primary").click();
    await page.waitForURL(/\/console\/groups\/EXERCISE-GROUP$/);
    await markNoReload(page);

    const details = page.locator("[data-live=details]");
    const instances = page.locator("[data-live=group-instances]");
    const activities = page.locator("[data-live=activities]");
    assert.match(await details.innerText(), /us-east-1a, us-east-1b/);
    assert.match(await page.locator("[data-live=policies]").innerText(),
      /Target Tracking Policy\s+TargetTrackingScaling\s+ASGAverageCPUUtilization target 80/);

    // Step 4: the minimum makes one instance start; the page shows it as it happens.
    await waitText(instances, /i-[0-9a-f]+\s+InService\s+Healthy/, 30000);
    await waitText(activities, /Successful\s+Launching a new EC2 instance: i-[0-9a-f]+/, 30000);
    assert.match(await activities.innerText(),
      /changing the desired capacity from 0 to 1|an instance was started in response to a difference between desired and actual capacity/);
    const first = (await instances.innerText()).match(/i-[0-9a-f]+/)[0];
    // The group's CPU chart fills in as samples arrive (every second here), no reload,
    // with the policy's 80 % target across it, labelled with AlarmHigh's state.
    await waitText(page.locator("[data-live=cpu]"), /latest: \d+(\.\d)?%/, 20000);
    const threshold = page.locator("[data-live=cpu] svg g.threshold");
    assert.equal(await threshold.getAttribute("data-value"), "80");
    assert.match(await threshold.locator("text").textContent(), /^target 80% · AlarmHigh (OK|INSUFFICIENT_DATA)$/);
    assert.match(await page.locator("[data-live=policies]").innerText(),
      /(OK|INSUFFICIENT_DATA) TargetTracking-EXERCISE-GROUP-AlarmHigh-[\s\S]*TargetTracking-EXERCISE-GROUP-AlarmLow-/);
    await screenshot(page, "group");

    // Step 5: capacity 0/0/0: the instance is terminated, live.
    await page.click("#edit-capacity summary");
    const cap = page.locator("#edit-capacity");
    await cap.locator("input[name=DesiredCapacity]").fill("0");
    await cap.locator("input[name=MinSize]").fill("0");
    await cap.locator("input[name=MaxSize]").fill("0");
    await cap.locator("button.primary").click();
    await waitText(details, /Desired capacity\s+0\s+Minimum\s+0\s+Maximum\s+0/);
    await waitText(activities, new RegExp(`Successful\\s+Terminating EC2 instance: ${first}`), 30000);
    await waitText(instances, /No instances\./, 30000);

    // ... then 1/1/2: the terminated instance comes back (a new one).
    await cap.locator("input[name=DesiredCapacity]").fill("1");
    await cap.locator("input[name=MinSize]").fill("1");
    await cap.locator("input[name=MaxSize]").fill("2");
    await cap.locator("button.primary").click();
    await waitText(details, /Desired capacity\s+1\s+Minimum\s+1\s+Maximum\s+2/);
    await waitText(instances, /i-[0-9a-f]+\s+InService\s+Healthy/, 30000);
    const second = (await instances.innerText()).match(/i-[0-9a-f]+/)[0];
    assert.notEqual(second, first);
    await waitText(activities, new RegExp(`Successful\\s+Launching a new EC2 instance: ${second}`), 30000);
    const launches = (await activities.innerText()).match(/Launching a new EC2 instance/g);
    assert.equal(launches.length, 2);

    // The form validates like the API: AWS's code and message, nothing changed.
    await cap.locator("input[name=DesiredCapacity]").fill("3");
    await cap.locator("button.primary").click();
    const err = cap.locator(".form-error");
    await err.waitFor({ state: "visible" });
    assert.match(await err.innerText(), /^ValidationError: .*(3|max).*/);
    assert.match(await details.innerText(), /Desired capacity\s+1\s+/);

    // Step 6's load: `stress` inside the instance; the group's CPU chart climbs, live.
    await page.locator("#edit-capacity summary").click(); // fold the form away
    const stress = d.shoal("ssh", second, "--", "stress", "--cpu", "1", "--timeout", "10");
    try {
      await waitFor("the group's CPU over 20%", async () => {
        const m = (await page.locator("[data-live=cpu]").innerText()).match(/latest: (\d+)/);
        return m && Number(m[1]) >= 20;
      }, 20000);
    } finally {
      const r = await stress;
      assert.equal(r.code, 0, `stress: ${r.stderr}`);
    }
    await assertNoReload(page);
    await screenshot(page, "group-after-edits");
    await page.goto(d.endpoint + "/console/instances");
    assert.match(await page.locator("[data-live=instances]").innerText(),
      new RegExp(`${second}[\\s\\S]*EXERCISE-GROUP`));
    await page.goto(d.endpoint + "/console/groups");
    assert.match(await page.locator("[data-live=groups]").innerText(),
      /EXERCISE-GROUP\s+exercise-launch-template \$Default\s+1\s+\S+\s+1\s+1\s+2\s+us-east-1a, us-east-1b/);
    await screenshot(page, "groups");
  });
});

test("instance actions: launch, live state, stop, create image, start, terminate", async () => {
  await withLab(async (d, page) => {
    await page.goto(d.endpoint + "/console/instances");
    await markNoReload(page);
    // A refused launch shows AWS's error: no image and no template.
    await page.click("#launch summary");
    const launch = page.locator("#launch");
    await launch.locator("button.primary").click();
    const err = launch.locator(".form-error");
    await err.waitFor({ state: "visible" });
    assert.match(await err.innerText(), /^MissingParameter: |^InvalidParameter/);
    await assertNoReload(page);

    // Launch from the base image: the page of the new instance, running without a reload.
    await launch.locator("input[name=Name]").fill("exercise-instance");
    const base = await launch.locator("select[name=ImageId] option").nth(1).getAttribute("value");
    await launch.locator("select[name=ImageId]").selectOption(base);
    await launch.locator("select[name=InstanceType]").selectOption("t2.micro");
    await launch.locator("button.primary").click();
    await page.waitForURL(/\/console\/instances\/i-[0-9a-f]+$/);
    const id = page.url().match(/i-[0-9a-f]+$/)[0];
    await markNoReload(page);
    const fields = page.locator("[data-live=instance]");
    await waitText(fields, /State\s+running/, 30000);
    assert.match(await fields.innerText(), /Private IP address\s+172\.31\.\d+\.\d+/);
    assert.match(await fields.innerText(), /Address \(loopback\)\s+127\.2\d\d\.\d+\.\d+/);
    assert.match(await fields.innerText(), /Tags\s+Name=exercise-instance/);
    // CPU samples arrive every second: the chart fills in without a reload.
    await waitText(page.locator("[data-live=cpu]"), /latest: \d+(\.\d)?%/, 20000);
    assert.deepEqual(await page.locator("form[data-action=InstanceStates] button").allInnerTexts(),
      ["Start", "Stop", "Reboot", "Terminate"]);
    // Its console output (GetConsoleOutput): the instance's init booting it.
    await waitText(page.locator("[data-live=console]"), new RegExp(`\\[shoal-init\\] ${id} booting \\(init pid \\d+\\)`));
    await screenshot(page, "instance");

    // Stop; then image it (stopped, like the lab's exercise-instance).
    await page.locator("form[data-action=InstanceStates] button[value=StopInstances]").click();
    await waitText(fields, /State\s+stopped/, 30000);
    await waitText(page.locator("[data-live=console]"), /\[shoal-init\] SIGTERM: stopping the instance[\s\S]*\[shoal-init\] stopped/);
    await assertNoReload(page);
    await page.click("#create-image summary");
    await page.locator("#create-image input[name=Name]").fill("my-image");
    await page.locator("#create-image button.primary").click();
    await page.waitForURL(/\/console\/images$/);
    await waitText(page.locator("[data-live=images]"), new RegExp(`my-image\\s+available[\\s\\S]*${id}`));
    await screenshot(page, "images");

    // From the list: select it, start it, then terminate it; the table follows live.
    await page.goto(d.endpoint + "/console/instances");
    await markNoReload(page);
    const table = page.locator("[data-live=instances]");
    const row = () => page.locator(`tr:has(a[href="/console/instances/${id}"])`);
    await waitText(row(), /stopped/);
    await row().locator("input[type=checkbox]").check();
    await page.locator("#instance-actions button[value=StartInstances]").click();
    await waitText(row(), /running/, 30000);
    // The selection survives live refreshes.
    assert.equal(await row().locator("input[type=checkbox]").isChecked(), true);
    await waitText(row(), /\d+%/, 20000); // the CPU sparkline has a value
    await screenshot(page, "instances");
    await page.locator("#instance-actions button[value=TerminateInstances]").click();
    await waitText(row(), /terminated/, 30000);
    assert.match(await table.innerText(), /Instances|exercise-instance/);
    await assertNoReload(page);
  });
});

test("launch template versions: a version from a source version, then the default", async () => {
  await withLab(async (d, page) => {
    const lab = await d.api("/_shoal/api/lab?stack=false", "POST");
    await page.goto(d.endpoint + "/console/launch-templates");
    await page.click("#create-template summary");
    const lt = page.locator("#create-template");
    await lt.locator("input[name=LaunchTemplateName]").fill("exercise-launch-template");
    await lt.locator("select[name=ImageId]").selectOption(lab.images["exercise-image"]);
    await lt.locator("select[name=KeyName]").selectOption("exercise-key");
    await lt.locator("button.primary").click();
    await page.waitForURL(/\/console\/launch-templates\/lt-/);
    await markNoReload(page);

    // Version 2 from version 1, only the AMI changed.
    const form = page.locator("#create-version");
    await form.locator("select[name=SourceVersion]").selectOption("1");
    await form.locator("select[name=ImageId]").selectOption(lab.images["exercise-image-beta"]);
    await form.locator("input[name=VersionDescription]").fill("beta");
    await form.locator("button.primary").click();
    const versions = page.locator("[data-live=versions]");
    await waitText(versions, new RegExp(`2\\s+beta\\s+${lab.images["exercise-image-beta"]}\\s+t2\\.micro\\s+exercise-key`));
    // A source version that does not exist: AWS's error.
    await form.locator("select[name=SourceVersion]").evaluate((s) => { s.options[0].value = "9"; s.value = "9"; });
    await form.locator("button.primary").click();
    const err = form.locator(".form-error");
    await err.waitFor({ state: "visible" });
    assert.match(await err.innerText(), /^InvalidLaunchTemplateId\.VersionNotFound: /);

    await page.locator("form[data-action=ModifyLaunchTemplate] button").first().click();
    await waitText(versions, /Default version\s+2/);
    await assertNoReload(page);

    // Part 3, step 3: a new template from a source template, only the AMI changed.
    await page.goto(d.endpoint + "/console/launch-templates");
    await page.click("#create-template summary");
    await lt.locator("input[name=LaunchTemplateName]").fill("exercise-launch-template-beta");
    await lt.locator("select[name=SourceTemplateName]").selectOption("exercise-launch-template");
    await lt.locator("select[name=ImageId]").selectOption(lab.images["exercise-image-beta"]);
    await lt.locator("select[name=InstanceType]").selectOption("");
    await lt.locator("button.primary").click();
    await page.waitForURL(/\/console\/launch-templates\/lt-/);
    await waitText(page.locator("[data-live=versions]"),
      new RegExp(`1\\s+default\\s+–\\s+${lab.images["exercise-image-beta"]}\\s+t2\\.micro\\s+exercise-key`));
    await page.goto(d.endpoint + "/console/launch-templates");
    await screenshot(page, "launch-templates");
  });
});

test("Part 2: targets turn healthy live; the health check is edited; a stopped app's row turns unhealthy", async () => {
  await withLab(async (d, page) => {
    const { vpc, subnets, tg, listener } = await loadBalancedLab(d);
    // Two rules (made with the aws CLI in the lab's spirit): a weighted forward and a
    // fixed response.
    const beta = xmlPick(await d.query({ ...ELB, Action: "CreateTargetGroup", Name: "exercise-target-group-beta",
      Protocol: "HTTP", Port: "3000", VpcId: vpc }), "TargetGroupArn");
    await d.query({ ...ELB, Action: "CreateRule", ListenerArn: listener, Priority: "5",
      "Conditions.member.1.Field": "path-pattern", "Conditions.member.1.PathPatternConfig.Values.member.1": "/beta/*",
      "Actions.member.1.Type": "forward",
      "Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": tg,
      "Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight": "80",
      "Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn": beta,
      "Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight": "20" });
    await d.query({ ...ELB, Action: "CreateRule", ListenerArn: listener, Priority: "9",
      "Conditions.member.1.Field": "http-request-method",
      "Conditions.member.1.HttpRequestMethodConfig.Values.member.1": "DELETE",
      "Actions.member.1.Type": "fixed-response", "Actions.member.1.FixedResponseConfig.StatusCode": "405",
      "Actions.member.1.FixedResponseConfig.ContentType": "text/plain",
      "Actions.member.1.FixedResponseConfig.MessageBody": "no" });

    await page.goto(d.endpoint + "/console/target-groups/exercise-target-group");
    await markNoReload(page);
    const targets = page.locator("[data-live=targets]");
    assert.match(await targets.innerText(), /No targets registered\./);
    // The group is attached to the target group: its instances register themselves.
    await d.query({ ...ASG, Action: "CreateAutoScalingGroup", AutoScalingGroupName: "EXERCISE-GROUP",
      "LaunchTemplate.LaunchTemplateName": "exercise-launch-template", MinSize: "2", MaxSize: "2",
      DesiredCapacity: "2", VPCZoneIdentifier: subnets.join(","), "TargetGroupARNs.member.1": tg });
    await waitFor("two healthy targets", async () =>
      ((await targets.innerText()).match(/healthy/g) || []).length === 2 &&
      !/unhealthy|initial/.test(await targets.innerText()), 60000);
    assert.match(await page.locator("[data-live=tg]").innerText(), /Auto Scaling groups\s+EXERCISE-GROUP/);

    // Step 3: interval 5 s, thresholds 2 and 2; a refused value shows AWS's error.
    await page.click("#edit-health-check summary");
    const hc = page.locator("#edit-health-check");
    await hc.locator("input[name=HealthCheckIntervalSeconds]").fill("1");
    await hc.locator("button.primary").click();
    await hc.locator(".form-error").waitFor({ state: "visible" });
    assert.match(await hc.locator(".form-error").innerText(), /^ValidationError: /);
    await hc.locator("input[name=HealthCheckIntervalSeconds]").fill("5");
    await hc.locator("input[name=HealthCheckTimeoutSeconds]").fill("4");
    await hc.locator("input[name=HealthyThresholdCount]").fill("2");
    await hc.locator("input[name=UnhealthyThresholdCount]").fill("2");
    await hc.locator("button.primary").click();
    await waitText(page.locator("[data-live=tg]"), /Interval\s+5 s\s+Timeout\s+4 s\s+Healthy threshold\s+2\s+Unhealthy threshold\s+2/);
    await assertNoReload(page);
    await screenshot(page, "target-group");

    // Step 5: the web server in one instance stops (as the lab's `service nginx stop`);
    // two failed checks later its row says so, with AWS's reason, without a reload.
    const [victim, other] = (await targets.innerText()).match(/i-[0-9a-f]+/g);
    // A container instance is the seed's machine (nginx in front of the app on :3000);
    // a process instance runs the app alone as the `app` service.
    const container = (await d.api("/_shoal/health")).isolation_mode === "container";
    const stop = await d.shoal("ssh", victim, "--", "service", container ? "nginx" : "app", "stop");
    assert.equal(stop.code, 0, stop.stderr);
    const row = (id) => targets.locator(`tr:has(a[href="/console/instances/${id}"])`);
    await waitText(row(victim), /unhealthy\s+Target\.FailedHealthChecks\s+Health checks failed/, 60000);
    assert.match(await row(other).innerText(), /\shealthy\s/);
    await assertNoReload(page);
    await screenshot(page, "target-group-unhealthy");

    // The load balancer's page: its listener forwards to the target group; it answers.
    await page.goto(d.endpoint + "/console/load-balancers");
    assert.match(await page.locator("[data-live=load-balancers]").innerText(), /exercise-lb\s+exercise-lb-\S+\s+active/);
    await page.goto(d.endpoint + "/console/load-balancers/exercise-lb");
    const listeners = page.locator("[data-live=lb]");
    assert.match(await listeners.innerText(), /HTTP:8080\s+forward to exercise-target-group/);
    // Its rules (DescribeRules), by priority, the weighted forward with each share.
    assert.match(await listeners.innerText(), new RegExp(["Rules of HTTP:8080", "Priority\\s+Conditions \\(all must match\\)\\s+Actions",
      "5\\s+Path is /beta/\\*\\s+forward to exercise-target-group weight 80 \\(80 %\\), exercise-target-group-beta weight 20 \\(20 %\\)",
      "9\\s+Method is DELETE\\s+fixed response 405 \\(text/plain\\): no",
      "default\\s+If no other rule applies\\s+forward to exercise-target-group"].join("\\s+")));
    assert.match(await page.locator("[data-live=lb-metrics]").innerText(), /Requests per second/);
    const open = await listeners.locator("a[href^='http://127.']").getAttribute("href");
    const r = await fetch(open, { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /Welcome to the A project/);
    await screenshot(page, "load-balancer");
  });
});

test("every page fits a laptop screen, tables included; missing resources and other sites are refused", async () => {
  await withLab(async (d, page) => {
    // One of everything, so detail pages have their tables filled.
    const { lt, subnets, tg, listener } = await loadBalancedLab(d);
    await d.query({ ...ELB, Action: "CreateRule", ListenerArn: listener, Priority: "5",
      "Conditions.member.1.Field": "path-pattern", "Conditions.member.1.PathPatternConfig.Values.member.1": "/beta/*",
      "Conditions.member.2.Field": "host-header", "Conditions.member.2.HostHeaderConfig.Values.member.1": "*.example.com",
      "Actions.member.1.Type": "forward", "Actions.member.1.TargetGroupArn": tg });
    await d.query({ ...ASG, Action: "CreateAutoScalingGroup", AutoScalingGroupName: "EXERCISE-GROUP",
      "LaunchTemplate.LaunchTemplateName": "exercise-launch-template", MinSize: "1", MaxSize: "2",
      DesiredCapacity: "1", VPCZoneIdentifier: subnets.join(","), "TargetGroupARNs.member.1": tg,
      "Tags.member.1.Key": "Name", "Tags.member.1.Value": "exercise-group", "Tags.member.1.PropagateAtLaunch": "true" });
    await d.query({ ...ASG, Action: "PutScalingPolicy", AutoScalingGroupName: "EXERCISE-GROUP",
      PolicyName: "Target Tracking Policy", PolicyType: "TargetTrackingScaling",
      "TargetTrackingConfiguration.PredefinedMetricSpecification.PredefinedMetricType": "ASGAverageCPUUtilization",
      "TargetTrackingConfiguration.TargetValue": "80" });
    const instance = await waitFor("the group's instance", async () =>
      (await d.query({ ...ASG, Action: "DescribeAutoScalingGroups" })).match(/<InstanceId>(i-[0-9a-f]+)</)?.[1], 30000);
    await waitFor("it running", async () =>
      /<name>running<\/name>/.test(await d.query({ ...EC2, Action: "DescribeInstances", "InstanceId.1": instance })), 30000);

    const pages = ["instances", `instances/${instance}`, "images", "launch-templates", `launch-templates/${lt}`,
      "groups", "groups/EXERCISE-GROUP", "load-balancers", "load-balancers/exercise-lb", "target-groups",
      "target-groups/exercise-target-group", "deployments"];
    const problems = [];
    for (const width of [1280, 1366]) {
      await page.setViewportSize({ width, height: 800 });
      for (const p of pages) {
        const r = await page.goto(`${d.endpoint}/console/${p}`);
        assert.equal(r.status(), 200, p);
        await page.locator("#live.up").waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 0) problems.push(`${p} at ${width}px: the page, by ${overflow}px`);
        // No table is cut off inside its sideways scroller either.
        for (const c of await page.evaluate(() => [...document.querySelectorAll(".scroll")]
          .filter((e) => e.scrollWidth > e.clientWidth + 1)
          .map((e) => `table.${e.querySelector("table").className}, by ${e.scrollWidth - e.clientWidth}px`))) {
          problems.push(`${p} at ${width}px: ${c}`);
        }
      }
    }
    assert.deepEqual(problems, [], "nothing scrolls sideways");
    // An empty value reads as a dash (a running instance has no state reason).
    await page.goto(`${d.endpoint}/console/instances/${instance}`);
    assert.match(await page.locator("[data-live=instance]").innerText(), /State reason\s+–/);
    // A missing resource: AWS's error in the frame, with a 404.
    const r = await page.goto(`${d.endpoint}/console/groups/NOPE`);
    assert.equal(r.status(), 404);
    assert.match(await page.locator("main").innerText(), /ValidationError: AutoScalingGroup name not found/);
    // Another site cannot drive it: a cross-site form post and a rebound DNS name are refused.
    const cross = await page.request.post(`${d.endpoint}/console/actions/InstanceStates`, {
      headers: { Origin: "http://evil.example" }, form: { Action: "StopInstances", InstanceId: "i-0123456789abcdef0" } });
    assert.equal(cross.status(), 403);
    const rebound = await page.request.get(`${d.endpoint}/console/instances`, { headers: { Host: "evil.example" } });
    assert.equal(rebound.status(), 403);
    // The AWS endpoint's bare GET leads a browser to the console.
    await page.goto(d.endpoint + "/");
    assert.match(page.url(), /\/console\/instances$/);
  });
});
