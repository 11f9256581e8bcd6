#!/usr/bin/env bash
# A real InspIRCd 3 (Debian package: inspircd) on 127.0.0.1:<port> for peerpost's
# integration tests, with its own config, data and logs in <dir>, and the IRCv3
# modules loaded: cap, message-tags with client-only tags (ircv3_ctctags),
# echo-message, labeled-response, server-time, msgid, batch.
# Adapted from /work/shared/peers/inspircd.sh.
#
# Usage: inspircd.sh start <port> [dir]   -> prints the PID as the last stdout line
#        inspircd.sh stop <pid>
# Environment:
#   INSPIRCD_NAME   the server name (default irc.insp.local).
#   INSPIRCD_SERVICES_PORT  also listen for a services server on this port
#                   (test/peers/atheme.sh, link password "linkpass"), and load
#                   SASL, services accounts and the account-tag.
# Install: bash test/peers/install.sh inspircd   (as root)
set -euo pipefail
cmd=${1:?start|stop}
case "$cmd" in
start)
  port=${2:?port}
  dir=${3:-$(mktemp -d /tmp/peer-inspircd.XXXXXX)}
  bin=$(command -v inspircd || echo /usr/sbin/inspircd)
  [ -x "$bin" ] || { echo "inspircd is not installed; install it with: sudo bash test/peers/install.sh inspircd" >&2; exit 1; }
  name=${INSPIRCD_NAME:-irc.insp.local}
  mkdir -p "$dir"
  echo "peerpost test ircd" > "$dir/motd"
  cat > "$dir/inspircd.conf" <<EOF
<path configdir="$dir" datadir="$dir" logdir="$dir">
<server name="$name" description="peerpost test ircd" network="Test">
<admin name="test" nick="test" email="test@localhost">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="test" allow="127.0.0.1"
         timeout="60" pingfreq="120"
         resolvehostnames="no" useident="no"
         threshold="100000" commandrate="100000000" fakelag="no"
         recvq="1048576" softsendq="1048576" hardsendq="4194304"
         localmax="10000" globalmax="10000" maxconnwarn="off" limit="10000">
<files motd="$dir/motd">
<channels users="1000" opers="1000">
<dns timeout="1">
<pid file="$dir/inspircd.pid">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes" pingwarning="15" splitwhois="no" exemptchanops="">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no" hideulines="no" hidebans="no" maxtargets="20">
<performance quietbursts="yes" softlimit="1024" somaxconn="128" netbuffersize="10240">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$dir/ircd.log">
<module name="cap">
<module name="ircv3">
<module name="ircv3_ctctags">
<module name="ircv3_echomessage">
<module name="ircv3_labeledresponse">
<module name="ircv3_servertime">
<module name="ircv3_msgid">
<module name="ircv3_batch">
EOF
  if [ -n "${INSPIRCD_SERVICES_PORT:-}" ]; then
    cat >> "$dir/inspircd.conf" <<EOF
<bind address="127.0.0.1" port="$INSPIRCD_SERVICES_PORT" type="servers">
<module name="spanningtree">
<module name="services_account">
<module name="sasl">
<module name="ircv3_accounttag">
<link name="services.test.local" ipaddr="127.0.0.1" port="$INSPIRCD_SERVICES_PORT" allowmask="127.0.0.0/8" sendpass="linkpass" recvpass="linkpass">
<uline server="services.test.local" silent="yes">
<sasl target="services.test.local">
EOF
  fi
  # --runasroot: the tests run as root in CI; --nofork keeps $! == the server's PID.
  nohup "$bin" --runasroot --nofork --config="$dir/inspircd.conf" > "$dir/stdout.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "inspircd died; see $dir/stdout.log" >&2; cat "$dir/stdout.log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "dir=$dir log=$dir/ircd.log" >&2
  echo "$pid"
  ;;
stop)
  pid=${2:?pid}
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: $0 start <port> [dir] | stop <pid>" >&2; exit 2;;
esac
