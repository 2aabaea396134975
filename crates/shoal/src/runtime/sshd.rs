//! ssh with the key pair, as on EC2: on an instance's first boot cloud-init installs the
//! launch's key pair for the image's default user (`ec2-user`) and the instance makes
//! its own host keys; sshd starts on every boot. Container instances in a VPC network
//! only: there sshd has the instance's own port 22, which the public-address mirror
//! (`vpcnet::public`) forwards from the host. `shoal ssh` needs none of this.
//!
//! Run by the instance's init, as root inside the instance, before user data (so user
//! data may change what it set up), in the image's own shell.

/// The image's default user, the one EC2's key pair is installed for.
pub const DEFAULT_USER: &str = "ec2-user";

/// The setup script for one boot. `authorized_key` is the key pair's OpenSSH public key,
/// given on the first boot.
pub fn setup_script(first_boot: bool, authorized_key: Option<&str>) -> String {
    let mut s =
        String::from("#!/bin/sh\n# Shoal's instance setup: ssh keys (first boot) and sshd.\n");
    if first_boot {
        // Host keys made when the image was built are every instance's: each makes its own.
        s.push_str("rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub\n");
        // A public key is one line of base64 and words; anything else is not installed.
        let key = authorized_key.map(str::trim).filter(|k| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_graphic() && c != '\'' || c == ' ')
        });
        if let Some(key) = key {
            let user = DEFAULT_USER;
            s.push_str(&format!(
                "home=$(getent passwd {user} | cut -d: -f6)\n\
                 if [ -n \"$home\" ] && [ -d \"$home\" ]; then\n  \
                 mkdir -p \"$home/.ssh\"\n  \
                 printf '%s\\n' '{key}' > \"$home/.ssh/authorized_keys\"\n  \
                 chmod 0700 \"$home/.ssh\"\n  \
                 chmod 0600 \"$home/.ssh/authorized_keys\"\n  \
                 chown -R {user}: \"$home/.ssh\"\n  \
                 echo \"shoal: installed the key pair for {user}\"\n\
                 fi\n"
            ));
        }
    }
    s.push_str(
        "if [ -x /usr/sbin/sshd ]; then\n  \
         ssh-keygen -A\n  \
         mkdir -p /run/sshd && chmod 0755 /run/sshd\n  \
         /usr/sbin/sshd && echo \"shoal: sshd started\"\n\
         fi\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_goes_to_ec2_user_on_the_first_boot_only() {
        let key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 exercise-key";
        let first = setup_script(true, Some(key));
        assert!(first.contains(&format!("printf '%s\\n' '{key}' > \"$home/.ssh/authorized_keys\"")));
        assert!(first.contains("getent passwd ec2-user"));
        assert!(first.contains("chmod 0700 \"$home/.ssh\""));
        assert!(first.contains("rm -f /etc/ssh/ssh_host_"));
        assert!(first.contains("/usr/sbin/sshd"));
        let later = setup_script(false, Some(key));
        assert!(!later.contains("authorized_keys") && !later.contains("rm -f"));
        assert!(later.contains("ssh-keygen -A"));
        // Nothing that could end the quoted word is written into the script.
        assert!(!setup_script(true, Some("ssh-rsa AAA' ; rm -rf / ;'")).contains("authorized_keys"));
        assert!(!setup_script(true, None).contains("authorized_keys"));
    }
}
