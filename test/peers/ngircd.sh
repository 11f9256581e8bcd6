#!/usr/bin/env bash
# A real ngIRCd (Debian package: ngircd) on 127.0.0.1:<port> for peerpost's
# integration tests, with its own config, pid file and motd in <dir>.
# Adapted from /work/shared/peers/ngircd.sh.
#
# Usage: ngircd.sh start <port> [dir]   -> prints the PID as the last stdout line
#        ngircd.sh stop <pid>
# Environment:
#   NGIRCD_MAX_PENALTY  MaxPenaltyTime: 0 (the default here) turns ngircd's flood
#                       throttling off; "default" leaves ngircd's own default
#                       (-1: penalties on, the way a real network behaves).
#   NGIRCD_NAME         the server name (default irc.test.local).
#   NGIRCD_PASSWORD     a server password (PASS) every client must give.
#   NGIRCD_LINK_ACCEPT  accept a server link from this server name (password
#                       "linkpass"): two test servers as one network.
#   NGIRCD_LINK_CONNECT "name port": link to that server at 127.0.0.1:port
#                       (which accepts it by NGIRCD_LINK_ACCEPT).
#   NGIRCD_TLS_PORT, NGIRCD_TLS_CERT, NGIRCD_TLS_KEY
#                       also listen with TLS on that port, with that certificate
#                       and key (PEM files readable by nobody).
# Install: bash test/peers/install.sh ngircd   (as root)
# ngircd started as root drops to nobody: every parent of <dir> must be
# world-executable (mktemp under /tmp is).
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
start)
  port=${2:?port}
  dir=${3:-$(mktemp -d /tmp/peer-ngircd.XXXXXX)}
  bin=$(command -v ngircd || echo /usr/sbin/ngircd)
  [ -x "$bin" ] || { echo "ngircd is not installed; install it with: sudo bash test/peers/install.sh ngircd" >&2; exit 1; }
  mkdir -p "$dir"; chmod 755 "$dir"
  echo "peerpost test ircd" > "$dir/motd"
  if [ "$(id -u)" = 0 ]; then
    if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$dir/motd"; then
      echo "user nobody cannot read $dir: every parent dir must be world-executable" >&2; exit 1; fi
  fi
  mkdir -p "$dir/run"; chown nobody:nogroup "$dir/run" 2>/dev/null || true  # pid file written after setuid
  penalty=${NGIRCD_MAX_PENALTY:-0}
  penalty_line="MaxPenaltyTime = $penalty"
  [ "$penalty" = default ] && penalty_line="; MaxPenaltyTime: ngircd's default"
  password_line=""
  [ -n "${NGIRCD_PASSWORD:-}" ] && password_line="Password = $NGIRCD_PASSWORD"
  ssl_section=""
  if [ -n "${NGIRCD_TLS_PORT:-}" ]; then
    ssl_section=$(printf '[SSL]\n\tCertFile = %s\n\tKeyFile = %s\n\tPorts = %s\n' "${NGIRCD_TLS_CERT:?}" "${NGIRCD_TLS_KEY:?}" "$NGIRCD_TLS_PORT")
  fi
  server_section=""
  passive=-p
  if [ -n "${NGIRCD_LINK_ACCEPT:-}" ]; then
    server_section=$(printf '[Server]\n\tName = %s\n\tHost = 127.0.0.1\n\tMyPassword = linkpass\n\tPeerPassword = linkpass\n' "$NGIRCD_LINK_ACCEPT")
  fi
  if [ -n "${NGIRCD_LINK_CONNECT:-}" ]; then
    read -r link_name link_port <<<"$NGIRCD_LINK_CONNECT"
    server_section=$(printf '[Server]\n\tName = %s\n\tHost = 127.0.0.1\n\tPort = %s\n\tMyPassword = linkpass\n\tPeerPassword = linkpass\n' "$link_name" "$link_port")
    passive=""
  fi
  cat > "$dir/ngircd.conf" <<CONF
[Global]
	Name = ${NGIRCD_NAME:-irc.test.local}
	Info = peerpost test ircd
	AdminInfo1 = test
	AdminInfo2 = test
	AdminEMail = test@localhost
	Listen = 127.0.0.1
	Ports = $port
	MotdFile = $dir/motd
	PidFile = $dir/run/ngircd.pid
	$password_line
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 30
	$penalty_line
	PingTimeout = 120
	PongTimeout = 20
	ConnectRetry = 5
[Options]
	DNS = no
	Ident = no
	PAM = no
[Operator]
	Name = oper
	Password = operpass
$ssl_section
$server_section
CONF
  # -n: no fork; -p: passive (makes no server links, unless NGIRCD_LINK_CONNECT); -f: our config.
  nohup "$bin" -n $passive -f "$dir/ngircd.conf" > "$dir/ngircd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "ngircd died; see $dir/ngircd.log" >&2; cat "$dir/ngircd.log" >&2; exit 1; fi
    sleep 0.05
  done
  echo "dir=$dir log=$dir/ngircd.log" >&2
  echo "$pid"
  ;;
stop)
  pid=${2:?pid}
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: $0 start <port> [dir] | stop <pid>" >&2; exit 2;;
esac
