// The lab with the AWS SDK for JavaScript v3 (pinned in package-lock.json) against a real
// Shoal daemon: EC2 (default VPC, key pair, security group, an instance and the SDK's
// waiter, a launch template), ELBv2 (target group, load balancer, listener, waiters),
// Auto Scaling (a group whose instance turns InService and healthy behind the load
// balancer, paginators), CloudWatch, and AWS's error shapes as the SDK parses them.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { Daemon, waitFor } = require("../console/daemon");
const ec2 = require("@aws-sdk/client-ec2");
const asg = require("@aws-sdk/client-auto-scaling");
const elb = require("@aws-sdk/client-elastic-load-balancing-v2");
const cw = require("@aws-sdk/client-cloudwatch");

const USER_DATA = fs.readFileSync(path.join(__dirname, "..", "..", "examples", "lab", "setup.sh"));

/** The SDK's clients for `d`, as a developer configures them for a local endpoint. */
function clients(d) {
  const config = {
    endpoint: d.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 2,
  };
  return {
    ec2: new ec2.EC2Client(config),
    asg: new asg.AutoScalingClient(config),
    elb: new elb.ElasticLoadBalancingV2Client(config),
    cw: new cw.CloudWatchClient(config),
  };
}

/** GET `url` on Shoal's own port with `host` as the Host header: (status, body). */
function getVia(endpoint, host, urlPath = "/") {
  const u = new URL(endpoint);
  return new Promise((resolve) => {
    const req = http.get(
      { host: u.hostname, port: u.port, path: urlPath, headers: { Host: host }, timeout: 3000 },
      (res) => {
        let body = "";
        res.on("data", (c) => { body += c; });
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, body: "" }));
  });
}

/** The AWS API calls the daemon served ("service action") and those it refused ("… code"),
 * from its Prometheus counters. */
async function apiCalls(d) {
  const text = await (await fetch(`${d.endpoint}/metrics`, { signal: AbortSignal.timeout(10000) })).text();
  const calls = [...text.matchAll(/^shoal_api_requests_total\{service="([^"]+)",action="([^"]+)"\}/gm)]
    .map((m) => `${m[1]} ${m[2]}`);
  const errors = [...text.matchAll(/^shoal_api_errors_total\{service="([^"]+)",action="([^"]+)",code="([^"]+)"\}/gm)]
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  return { calls: [...new Set(calls)].sort(), errors: [...new Set(errors)].sort() };
}

// Every call this test makes (as Shoal's /metrics counts them): none is refused as
// unknown, and only the error checks below are refused at all.
const CALLS = [
  "autoscaling CreateAutoScalingGroup", "autoscaling DeleteAutoScalingGroup",
  "autoscaling DescribeAutoScalingGroups", "ec2 AuthorizeSecurityGroupIngress", "ec2 CreateKeyPair",
  "ec2 CreateLaunchTemplate", "ec2 CreateSecurityGroup", "ec2 DeleteKeyPair", "ec2 DeleteLaunchTemplate",
  "ec2 DeleteSecurityGroup", "ec2 DescribeImages", "ec2 DescribeInstances", "ec2 DescribeSecurityGroups",
  "ec2 DescribeSubnets", "ec2 DescribeVpcs", "ec2 RunInstances", "ec2 TerminateInstances",
  "elasticloadbalancing CreateListener", "elasticloadbalancing CreateLoadBalancer",
  "elasticloadbalancing CreateTargetGroup", "elasticloadbalancing DeleteLoadBalancer",
  "elasticloadbalancing DeleteTargetGroup", "elasticloadbalancing DescribeLoadBalancers",
  "elasticloadbalancing DescribeTargetGroups", "elasticloadbalancing DescribeTargetHealth",
  "elasticloadbalancing ModifyTargetGroupAttributes", "monitoring ListMetrics", "monitoring PutMetricData",
];
const REFUSED = [
  "autoscaling CreateAutoScalingGroup AlreadyExists", "ec2 RunInstances InvalidAMIID.Malformed",
  "ec2 RunInstances InvalidAMIID.NotFound", "elasticloadbalancing DescribeLoadBalancers LoadBalancerNotFound",
];

/** Every item of a paginator, flattened with `pick`. */
async function all(paginator, pick) {
  const out = [];
  for await (const page of paginator) out.push(...pick(page));
  return out;
}

test("the lab with the AWS SDK for JavaScript v3", { timeout: 300000 }, async () => {
  const d = await Daemon.start();
  const c = clients(d);
  try {
    // The default VPC and its subnets, with a paginator.
    const vpcs = (await c.ec2.send(new ec2.DescribeVpcsCommand({
      Filters: [{ Name: "is-default", Values: ["true"] }] }))).Vpcs;
    assert.equal(vpcs.length, 1);
    const vpcId = vpcs[0].VpcId;
    const subnets = await all(
      ec2.paginateDescribeSubnets({ client: c.ec2, pageSize: 5 },
        { Filters: [{ Name: "vpc-id", Values: [vpcId] }, { Name: "default-for-az", Values: ["true"] }] }),
      (p) => p.Subnets);
    assert.ok(subnets.length >= 2, "a default subnet per zone");
    subnets.sort((a, b) => a.AvailabilityZone.localeCompare(b.AvailabilityZone));
    const subnetIds = subnets.slice(0, 2).map((s) => s.SubnetId);

    // A key pair and a security group with ingress: the app's port and the load balancer's
    // listener's, from anywhere (the host is the internet to a VPC).
    const key = await c.ec2.send(new ec2.CreateKeyPairCommand({ KeyName: "sdk-key" }));
    assert.match(key.KeyMaterial, /BEGIN (RSA|OPENSSH) PRIVATE KEY/);
    const sg = (await c.ec2.send(new ec2.CreateSecurityGroupCommand({
      GroupName: "sdk-web", Description: "the app", VpcId: vpcId }))).GroupId;
    await c.ec2.send(new ec2.AuthorizeSecurityGroupIngressCommand({
      GroupId: sg,
      IpPermissions: [{ IpProtocol: "tcp", FromPort: 3000, ToPort: 3000,
        IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "the app" }] },
      { IpProtocol: "tcp", FromPort: 8080, ToPort: 8080,
        IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "the load balancer" }] }],
    }));
    const group = (await c.ec2.send(new ec2.DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups[0];
    assert.deepEqual(group.IpPermissions.map((p) => [p.FromPort, p.IpRanges[0].CidrIp, p.IpRanges[0].Description]),
      [[3000, "0.0.0.0/0", "the app"], [8080, "0.0.0.0/0", "the load balancer"]]);

    // An instance, and the SDK's waiter.
    const images = (await c.ec2.send(new ec2.DescribeImagesCommand({ Owners: ["amazon"],
      Filters: [{ Name: "name", Values: ["al2023-ami-shoal-base-kernel-default-x86_64"] }] }))).Images;
    const imageId = images[0].ImageId;
    const run = await c.ec2.send(new ec2.RunInstancesCommand({
      ImageId: imageId, InstanceType: "t2.micro", MinCount: 1, MaxCount: 1, KeyName: "sdk-key",
      SecurityGroupIds: [sg], SubnetId: subnetIds[0],
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "Name", Value: "sdk-instance" }] }],
    }));
    const instanceId = run.Instances[0].InstanceId;
    const waited = await ec2.waitUntilInstanceRunning(
      { client: c.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] });
    assert.equal(waited.state, "SUCCESS");
    const instance = (await c.ec2.send(new ec2.DescribeInstancesCommand({ InstanceIds: [instanceId] })))
      .Reservations[0].Instances[0];
    assert.equal(instance.State.Name, "running");
    assert.deepEqual(instance.SecurityGroups.map((g) => g.GroupId), [sg]);
    assert.match(instance.PublicIpAddress, /^127\./);

    // A launch template that installs and starts the lab's app.
    const lt = (await c.ec2.send(new ec2.CreateLaunchTemplateCommand({
      LaunchTemplateName: "sdk-template",
      LaunchTemplateData: {
        ImageId: imageId, InstanceType: "t2.micro", KeyName: "sdk-key", SecurityGroupIds: [sg],
        UserData: USER_DATA.toString("base64"),
        MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 2 },
      },
    }))).LaunchTemplate;
    assert.equal(lt.LatestVersionNumber, 1);

    // A target group, a load balancer and a listener; the SDK's waiter.
    const tg = (await c.elb.send(new elb.CreateTargetGroupCommand({
      Name: "sdk-tg", Protocol: "HTTP", Port: 3000, VpcId: vpcId, HealthCheckPath: "/health",
      HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2,
    }))).TargetGroups[0].TargetGroupArn;
    await c.elb.send(new elb.ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg,
      Attributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "0" }] }));
    const lb = (await c.elb.send(new elb.CreateLoadBalancerCommand({
      Name: "sdk-lb", Subnets: subnetIds, SecurityGroups: [sg] }))).LoadBalancers[0];
    assert.match(lb.DNSName, /^sdk-lb-\d+\.us-east-1\.elb\.localhost$/);
    await c.elb.send(new elb.CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancerArn, Protocol: "HTTP", Port: 8080,
      DefaultActions: [{ Type: "forward", TargetGroupArn: tg }] }));
    const available = await elb.waitUntilLoadBalancerAvailable(
      { client: c.elb, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { LoadBalancerArns: [lb.LoadBalancerArn] });
    assert.equal(available.state, "SUCCESS");

    // An Auto Scaling group from the template, attached to the target group.
    await c.asg.send(new asg.CreateAutoScalingGroupCommand({
      AutoScalingGroupName: "sdk-asg", LaunchTemplate: { LaunchTemplateName: "sdk-template" },
      MinSize: 1, MaxSize: 2, DesiredCapacity: 1, VPCZoneIdentifier: subnetIds.join(","),
      TargetGroupARNs: [tg], HealthCheckType: "ELB", HealthCheckGracePeriod: 60,
    }));
    const inService = await waitFor("the group's instance InService", async () => {
      const groups = await all(
        asg.paginateDescribeAutoScalingGroups({ client: c.asg }, { AutoScalingGroupNames: ["sdk-asg"] }),
        (p) => p.AutoScalingGroups);
      const members = groups[0].Instances;
      return members.length === 1 && members[0].LifecycleState === "InService" && members[0];
    }, 90000, 1000);
    assert.equal(inService.LaunchTemplate.LaunchTemplateName, "sdk-template");
    const healthy = await elb.waitUntilTargetInService(
      { client: c.elb, maxWaitTime: 90, minDelay: 1, maxDelay: 2 },
      { TargetGroupArn: tg, Targets: [{ Id: inService.InstanceId }] });
    assert.equal(healthy.state, "SUCCESS");

    // The load balancer answers: its DNS name on Shoal's own port.
    const answer = await waitFor("the load balancer to answer", async () => {
      const r = await getVia(d.endpoint, lb.DNSName);
      return r.status === 200 && r;
    }, 30000, 500);
    assert.match(answer.body, new RegExp(`Welcome to the A project \\(instance ${inService.InstanceId}`));

    // CloudWatch: the load balancer's metrics are listed.
    await c.cw.send(new cw.PutMetricDataCommand({ Namespace: "Lab", MetricData: [
      { MetricName: "QueueDepth", Value: 42, Dimensions: [{ Name: "AutoScalingGroupName", Value: "sdk-asg" }] }] }));
    const metrics = (await c.cw.send(new cw.ListMetricsCommand({ Namespace: "Lab" }))).Metrics;
    assert.deepEqual(metrics.map((m) => m.MetricName), ["QueueDepth"]);

    // AWS's error shapes, as the SDK parses them.
    await assert.rejects(
      c.ec2.send(new ec2.RunInstancesCommand({ ImageId: "ami-00000000000000000", InstanceType: "t2.micro",
        MinCount: 1, MaxCount: 1 })),
      (e) => e.name === "InvalidAMIID.NotFound" && e.$metadata.httpStatusCode === 400 && /ami-0{17}/.test(e.message));
    await assert.rejects(
      c.ec2.send(new ec2.RunInstancesCommand({ ImageId: "not-an-ami", InstanceType: "t2.micro",
        MinCount: 1, MaxCount: 1 })),
      (e) => e.name === "InvalidAMIID.Malformed" && e.$fault === "client");
    await assert.rejects(
      c.elb.send(new elb.DescribeLoadBalancersCommand({ Names: ["no-such-lb"] })),
      (e) => e instanceof elb.LoadBalancerNotFoundException && e.name === "LoadBalancerNotFoundException");
    await assert.rejects(
      c.asg.send(new asg.CreateAutoScalingGroupCommand({ AutoScalingGroupName: "sdk-asg",
        LaunchTemplate: { LaunchTemplateName: "sdk-template" }, MinSize: 1, MaxSize: 1,
        VPCZoneIdentifier: subnetIds[0] })),
      (e) => e instanceof asg.AlreadyExistsFault && e.name === "AlreadyExistsFault" && e.$fault === "client");

    // Clean up, in dependency order, with the SDK's waiters.
    await c.asg.send(new asg.DeleteAutoScalingGroupCommand({ AutoScalingGroupName: "sdk-asg", ForceDelete: true }));
    await waitFor("the group gone", async () =>
      (await c.asg.send(new asg.DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["sdk-asg"] })))
        .AutoScalingGroups.length === 0, 60000, 500);
    await c.elb.send(new elb.DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    const deleted = await elb.waitUntilLoadBalancersDeleted(
      { client: c.elb, maxWaitTime: 30, minDelay: 1, maxDelay: 2 }, { LoadBalancerArns: [lb.LoadBalancerArn] });
    assert.equal(deleted.state, "SUCCESS");
    await c.elb.send(new elb.DeleteTargetGroupCommand({ TargetGroupArn: tg }));
    await c.ec2.send(new ec2.DeleteLaunchTemplateCommand({ LaunchTemplateName: "sdk-template" }));
    await c.ec2.send(new ec2.TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    const terminated = await ec2.waitUntilInstanceTerminated(
      { client: c.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] });
    assert.equal(terminated.state, "SUCCESS");
    await c.ec2.send(new ec2.DeleteSecurityGroupCommand({ GroupId: sg }));
    await c.ec2.send(new ec2.DeleteKeyPairCommand({ KeyName: "sdk-key" }));

    const left = (await c.ec2.send(new ec2.DescribeInstancesCommand({
      Filters: [{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] }] })))
      .Reservations.flatMap((r) => r.Instances);
    assert.deepEqual(left, [], "no instance left");
    assert.deepEqual((await c.elb.send(new elb.DescribeTargetGroupsCommand({}))).TargetGroups, []);
    assert.deepEqual(
      (await c.ec2.send(new ec2.DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: ["sdk-web"] }] })))
        .SecurityGroups, []);

    const { calls, errors } = await apiCalls(d);
    assert.deepEqual(calls, CALLS);
    // And each is in the tools' list, which every tool suite checks its calls against.
    const listed = new Set(fs.readFileSync(path.join(__dirname, "..", "tool-calls.txt"), "utf8")
      .split("\n").map((l) => l.split("#")[0].trim()).filter(Boolean));
    const missing = calls.filter((call) => !listed.has(call));
    assert.deepEqual(missing, [], `add each to tests/tool-calls.txt: ${missing.join(", ")}`);
    assert.deepEqual(errors, REFUSED);
  } finally {
    for (const client of Object.values(c)) client.destroy();
    await d.stop();
  }
});
