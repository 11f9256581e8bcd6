#!/usr/bin/env bash
# Atheme IRC services (Debian package: atheme-services) linked to the InspIRCd of
# test/peers/inspircd.sh (started with INSPIRCD_SERVICES_PORT), for peerpost's
# integration tests: NickServ (register, identify, ghost), SaslServ (PLAIN), as
# the server "services.test.local". Its config, database and log are in <dir>.
#
# Usage: atheme.sh start <link-port> <dir> [uplink-name]  -> prints the PID as the last stdout line
#        atheme.sh stop <pid>
# The link password is "linkpass" (the one inspircd.sh writes). Atheme will not
# run as root: started as root, it runs as nobody (every parent of <dir> must be
# world-executable, as mktemp under /tmp is).
# Install: bash test/peers/install.sh atheme-services   (as root)
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
start)
  port=${2:?link port}
  dir=${3:?dir}
  uplink=${4:-irc.insp.local}
  bin=$(command -v atheme-services || echo /usr/bin/atheme-services)
  [ -x "$bin" ] || { echo "atheme-services is not installed; install it with: sudo bash test/peers/install.sh atheme-services" >&2; exit 1; }
  mkdir -p "$dir"
  cat > "$dir/atheme.conf" <<EOF
loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/help";
loadmodule "modules/nickserv/register";
loadmodule "modules/nickserv/identify";
loadmodule "modules/nickserv/ghost";
loadmodule "modules/nickserv/info";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
serverinfo {
  name = "services.test.local";
  desc = "peerpost test services";
  numeric = "00A";
  recontime = 2;
  netname = "Test";
  hidehostsuffix = "users.test";
  adminname = "test";
  adminemail = "test@localhost";
  registeremail = "noreply@localhost";
  mta = "/bin/true";
  loglevel = { error; info; admin; network; };
  maxlogins = 5;
  maxusers = 5;
  mdlimit = 30;
  emaillimit = 10;
  emailtime = 300;
  auth = none;
  casemapping = rfc1459;
};
uplink "$uplink" {
  host = "127.0.0.1";
  port = $port;
  send_password = "linkpass";
  receive_password = "linkpass";
};
nickserv {
  nick = "NickServ";
  user = "NickServ";
  host = "services.test.local";
  real = "Nickname Services";
  spam;
  maxnicks = 5;
  expire = 30;
};
saslserv {
  nick = "SaslServ";
  user = "SaslServ";
  host = "services.test.local";
  real = "SASL Authentication Agent";
};
logfile "$dir/atheme.log" { all; };
general {
  helpchan = "#help";
  helpurl = "http://localhost";
  join_chans;
  leave_chans;
  uflags = { hidemail; };
  cflags = { verbose; };
  flood_msgs = 0;
  flood_time = 10;
  ratelimit_uses = 0;
  ratelimit_period = 60;
  kline_time = 7;
  commit_interval = 5;
  default_clone_allowed = 1000;
  default_clone_warn = 1000;
  uplink_sendq_limit = 1048576;
  language = "en";
};
EOF
  touch "$dir/services.db"
  chmod 755 "$dir"; chmod 666 "$dir/services.db"
  run=()
  if [ "$(id -u)" = 0 ]; then chown -R nobody "$dir"; run=(setpriv --reuid=nobody --regid=nogroup --clear-groups); fi
  nohup "${run[@]}" "$bin" -n -c "$dir/atheme.conf" -D "$dir" -l "$dir/atheme.log" -p "$dir/atheme.pid" > "$dir/stdout.log" 2>&1 &
  pid=$!
  sleep 0.3
  if ! kill -0 $pid 2>/dev/null; then echo "atheme died; see $dir/stdout.log" >&2; cat "$dir/stdout.log" >&2; exit 1; fi
  echo "dir=$dir log=$dir/atheme.log" >&2
  echo "$pid"
  ;;
stop)
  pid=${2:?pid}
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: $0 start <link-port> <dir> [uplink-name] | stop <pid>" >&2; exit 2;;
esac
