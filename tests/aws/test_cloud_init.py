"""User data as cloud-init runs it: `#cloud-config` (write_files, packages, runcmd) and
`#!` scripts, given through boto3's RunInstances and read back inside the instance
(`shoal ssh`) and on its console (GetConsoleOutput).

The container tests are skipped, saying why, where the host cannot run containers; the
process-instance test runs everywhere.
"""
import base64
from pathlib import Path

from harness import Daemon, wait_for
from test_isolation import REASON, daemon, needs_containers  # noqa: F401 - its container daemon fixture

CLOUD_CONFIG = """#cloud-config
write_files:
  - path: /etc/exercise/motd
    content: |
      Welcome to the A project
    permissions: '0640'
    owner: ec2-user:ec2-user
  - path: /usr/local/bin/hello
    encoding: b64
    content: {script_b64}
    permissions: '0755'
  # Each entry sets its file's mode and owner (root:root, 0644 unless said), as cloud-init does.
  - path: /etc/exercise/motd
    content: "appended\\n"
    append: true
    permissions: '0640'
    owner: ec2-user:ec2-user
packages:
  - nginx
  - stress
  - shoal-no-such-package
runcmd:
  - 'echo "runcmd as a shell line: $(hostname)" > /root/line.txt'
  # Each word reaches the program as it is: no shell splits or unquotes them.
  - [sh, -c, 'echo "$0 argv list" > /root/argv.txt', "it's an"]
  - [/usr/local/bin/hello]
"""


def console(daemon, iid):
    return daemon.shoal("logs", iid).stdout


def finished(daemon, iid):
    try:
        wait_for("cloud-init to finish", lambda: "[cloud-init] finished" in console(daemon, iid), timeout=60)
    except AssertionError as e:
        raise AssertionError(f"{e}; console:\n{console(daemon, iid)}") from None
    return console(daemon, iid)


def run_with_user_data(daemon, user_data):
    ec2 = daemon.boto("ec2")
    iid = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                            UserData=user_data)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    return ec2, iid


def sh(daemon, iid, script):
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_containers
def test_cloud_config_writes_files_installs_packages_and_runs_commands(daemon):
    hello = b"#!/bin/sh\necho hello from write_files > /root/hello.txt\n"
    config = CLOUD_CONFIG.format(script_b64=base64.b64encode(hello).decode())
    ec2, iid = run_with_user_data(daemon, config)
    out = finished(daemon, iid)
    # Packages the offline image holds count as installed; a missing one is named.
    assert "packages already installed: nginx stress" in out
    assert "packages NOT installed: shoal-no-such-package" in out
    assert "finished with errors" in out, "a package not installed is a failure, said aloud"
    assert sh(daemon, iid, "stat -c '%a %U:%G' /etc/exercise/motd") == "640 ec2-user:ec2-user\n"
    assert sh(daemon, iid, "cat /etc/exercise/motd") == "Welcome to the A project\nappended\n"
    assert sh(daemon, iid, "stat -c '%a %U' /usr/local/bin/hello") == "755 root\n"
    assert sh(daemon, iid, "cat /root/hello.txt") == "hello from write_files\n"
    private_ip = daemon.instance(iid)["PrivateIpAddress"]
    assert sh(daemon, iid, "cat /root/line.txt") == f"runcmd as a shell line: ip-{private_ip.replace('.', '-')}\n"
    assert sh(daemon, iid, "cat /root/argv.txt") == "it's an argv list\n"
    # ec2-user reads its file; the runcmd script is where cloud-init keeps it.
    assert sh(daemon, iid, "sudo -u ec2-user cat /etc/exercise/motd").startswith("Welcome")
    assert "argv.txt" in sh(daemon, iid, "cat /var/lib/cloud/instance/scripts/runcmd")
    # The same console through EC2's GetConsoleOutput.
    output = ec2.get_console_output(InstanceId=iid)["Output"]
    try:
        output = base64.b64decode(output, validate=True).decode()
    except ValueError:
        pass
    assert "packages NOT installed: shoal-no-such-package" in output


@needs_containers
def test_a_cloud_config_of_present_packages_finishes_clean_and_says_what_it_ignores(daemon):
    _, iid = run_with_user_data(daemon, "#cloud-config\npackages: [git, curl]\nbootcmd: [echo early]\n"
                                        "runcmd:\n  - touch /root/ran\n")
    out = finished(daemon, iid)
    assert "packages already installed: git curl" in out
    assert "not run by Shoal (ignored): bootcmd" in out
    assert "[cloud-init] finished\n" in out
    assert "user data finished with status 0" in out
    assert sh(daemon, iid, "ls /root/ran") == "/root/ran\n"


@needs_containers
def test_shebang_scripts_still_run_as_themselves(daemon):
    _, iid = run_with_user_data(daemon, "#!/bin/bash\necho \"bash ${BASH_VERSINFO[0]}\" > /root/script.txt\n")
    wait_for("the script", lambda: "user data finished with status 0" in console(daemon, iid), timeout=30)
    assert sh(daemon, iid, "cat /root/script.txt").startswith("bash ")
    assert "[cloud-init]" not in console(daemon, iid)


def test_process_instances_run_cloud_config_inside_their_own_root():
    d = Daemon()
    try:
        _, iid = run_with_user_data(d, "#cloud-config\nwrite_files:\n  - path: /etc/planted\n"
                                       "    content: mine\nruncmd:\n  - [touch, ran-by-runcmd]\n")
        out = finished(d, iid)
        assert "[cloud-init] wrote /etc/planted" in out
        disk = Path(d.api(f"/_shoal/api/instances/{iid}")["disk"])
        assert (disk / "etc" / "planted").read_text() == "mine"
        assert (disk / "ran-by-runcmd").exists(), "runcmd runs in the instance's root"
        assert not Path("/etc/planted").exists(), "never on the host's /"
    finally:
        d.close()


if REASON:
    print(f"test_cloud_init: container tests skipped: {REASON}")
