#!/bin/sh
# User data for the lab's exercise-instance in a container of the base image
# (`--isolation container`): the image has the lab's app already, a git repository at
# /var/www/aws-exercise-a (branches main and beta) served on :3001, with nginx on :3000
# in front of it. This starts both at every boot, as the lab's instance does.
cat > /etc/rc.local <<'SCRIPT'
#!/bin/sh
service aws-exercise-a start
service nginx start
SCRIPT
chmod +x /etc/rc.local
