#!/usr/bin/env bash
# Real netkit finger daemon (Debian package: fingerd, binary /usr/sbin/in.fingerd)
# on 127.0.0.1:<port>.  in.fingerd is inetd-only (stdin/stdout), and no inetd is
# installed, so socat (Debian package: socat) plays inetd: one fork per connection,
# in.fingerd exec'd with the TCP socket as stdin/stdout (nofork).
#
# Modes:
#   real   (default) in.fingerd runs /usr/bin/finger -> answers about real
#          /etc/passwd accounts (e.g. "root").
#   plans  in.fingerd -p <dir>/finger-prog: a tiny program that prints
#          <dir>/plans/<user> (deterministic test fixtures; create files there).
# Usage: fingerd.sh start <port> [dir] [real|plans]  -> prints socat PID
#        fingerd.sh stop <pid>
# Install: bash test/peers/install.sh finger fingerd socat   (as root)
# A copy of ../shared/peers/fingerd.sh kept in the project, so CI has it;
# used by test/integration/finger-follow.test.ts.
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
start)
  port=${2:?port}
  dir=${3:-$(mktemp -d /tmp/peer-fingerd.XXXXXX)}
  mode=${4:-real}
  mkdir -p "$dir/plans"; chmod 755 "$dir" "$dir/plans"
  args="-t 10"
  if [ "$mode" = plans ]; then
    cat > "$dir/finger-prog" <<EOF
#!/bin/sh
# called by in.fingerd as: finger [-l] [--] [user...]; print fixture per user
for a in "\$@"; do case "\$a" in -*) ;; *) u="\$a";; esac; done
if [ -z "\${u:-}" ]; then echo "No one logged on."; exit 0; fi
if [ -f "$dir/plans/\$u" ]; then sed 's/\$/\r/' "$dir/plans/\$u"; else printf 'finger: %s: no such user.\r\n' "\$u"; fi
EOF
    chmod 755 "$dir/finger-prog"
    # As root in.fingerd runs the program as nobody; started by another user, as that user.
    if [ "$(id -u)" = 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$dir/finger-prog"; then
      echo "user nobody cannot run $dir/finger-prog: every parent dir must be world-executable" >&2; exit 1; fi
    args="$args -p $dir/finger-prog"
  fi
  # in.fingerd drops to user nobody itself when started as root.
  nohup socat -d TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork \
        EXEC:"/usr/sbin/in.fingerd $args",nofork > "$dir/socat.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if ss -ltn | grep -q "127.0.0.1:$port "; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "socat died:" >&2; cat "$dir/socat.log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "dir=$dir mode=$mode plans=$dir/plans" >&2
  echo "$pid"
  ;;
stop)
  pid=${2:?pid}
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: see header" >&2; exit 2;;
esac
