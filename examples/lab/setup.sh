#!/bin/sh
# User data for the lab's exercise-instance: installs the lab web app and starts it at
# every boot (the lab's Node/Express app on port 3000; here Shoal's built-in `app`).
# Runs once, at first boot, in the instance's root directory.
set -e
mkdir -p app etc/init.d var/log/app run
echo "Welcome to the A project" > app/message

cat > etc/init.d/app <<'SCRIPT'
#!/bin/sh
# service app start|stop|restart|status
# In a container instance `service` clears the environment: get the instance's back.
[ -r /run/shoal/env ] && . /run/shoal/env
pidfile="$INSTANCE_ROOT/run/app.pid"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$1" in
  start)
    if running; then echo "app is already running"; exit 0; fi
    nohup "$SHOAL_BIN" app --dir "$INSTANCE_ROOT/app" --log "$INSTANCE_ROOT/var/log/app/access.log" \
      >> "$INSTANCE_ROOT/var/log/app/app.log" 2>&1 &
    echo $! > "$pidfile"
    echo "Starting app: [  OK  ]" ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; fi
    rm -f "$pidfile"
    echo "Stopping app: [  OK  ]" ;;
  restart) "$0" stop; "$0" start ;;
  status) if running; then echo "app (pid $(cat "$pidfile")) is running..."; else echo "app is stopped"; exit 3; fi ;;
  *) echo "usage: service app start|stop|restart|status" >&2; exit 2 ;;
esac
SCRIPT
chmod +x etc/init.d/app

cat > etc/rc.local <<'SCRIPT'
#!/bin/sh
# Runs at every boot.
service app start
SCRIPT
chmod +x etc/rc.local
