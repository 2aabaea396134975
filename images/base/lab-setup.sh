# Run inside the base image (chroot) by scripts/build-base-image.sh: the lab's app as a
# git repository with the branches the lab uses (main: the A project, beta: its new
# version), nginx in front of it, and yum.
set -eu
chmod 0755 /etc/init.d/aws-exercise-a /usr/bin/yum
chmod 0644 /etc/default/nginx
# One worker is plenty for an instance; the default site (host-wide :80) is replaced by
# the one /etc/default/nginx writes for the instance's address.
sed -i 's/^worker_processes auto;/worker_processes 1;/' /etc/nginx/nginx.conf
rm -f /etc/nginx/sites-enabled/default
repo=/var/www/aws-exercise-a
mkdir -p "$repo"
cd "$repo"
git init -q -b main
git config user.name "AWS exercise"
git config user.email "exercise@example.invalid"
echo "Welcome to the A project" > message
printf '# aws-exercise-a\n\nThe lab app: GET / answers `message`, GET /health answers 200.\nServed on :3001 (service aws-exercise-a), behind nginx on :3000.\n' > README.md
git add message README.md
git commit -q -m "The A project"
git checkout -q -b beta
echo "Welcome to the A project beta" > message
git commit -q -am "The A project, beta"
git checkout -q main
git config --unset user.name
git config --unset user.email
chown -R ec2-user:ec2-user "$repo"
# Root (sudo git …) may work in ec2-user's checkout too.
git config --system --add safe.directory "$repo"
