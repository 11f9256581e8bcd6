#!/usr/bin/env bash
# Adapted from /work/shared/peers/inn2.sh for peerpost's tests and bench/nntp.ts.
# Start a real INN 2.7 innd (Debian package: inn2) on 127.0.0.1:<port> with a
# complete private tree (etc/db/spool/run/log) in <dir>, selected via INNCONF.
# Reader connections from 127.0.0.1 are handed by innd to nnrpd (readers.conf
# grants localhost read+post).  innd runs as user "news" (started via setpriv).
#
# Usage: inn2.sh install                          (= bash test/peers/install.sh inn2, as root)
#        inn2.sh start <port> [dir] [group ...]  -> prints innd PID on stdout
#        inn2.sh newgroup <dir> <group>           (ctlinnd newgroup, posting 'y')
#        inn2.sh stop <pid> [dir]                 (ctlinnd shutdown, then kill)
# Environment: INN_PEER=1 also lists 127.0.0.1 as a feed peer in incoming.conf (IHAVE
# to innd; readers must then send MODE READER first).
#
# Install (one-time, as root): test/peers/install.sh, the one installer of the tests'
# peers, installs postfix first (else inn2 pulls in exim4), gives inn2's postinst what it
# needs (/etc/postfix/main.cf for newaliases, a domain in /etc/news/inn.conf) and
# configures it again if it failed.
set -euo pipefail
BIN=/usr/lib/news/bin
asnews() { setpriv --reuid=news --regid=news --init-groups env INNCONF="$dir/etc/inn.conf" "$@"; }
cmd=${1:?install|start|newgroup|stop}
case "$cmd" in
install)
  exec bash "$(dirname "$0")/install.sh" inn2
  ;;
start)
  port=${2:?port}
  if [ "$(id -u)" != 0 ]; then
    echo "inn2.sh: innd runs only as user and group news (it checks), and only root can start it so: run inn2.sh, or the test that uses it, as root (sudo)" >&2
    exit 1
  fi
  dir=${3:-$(mktemp -d /tmp/peer-inn2.XXXXXX)}
  shift 3 2>/dev/null || shift $#
  mkdir -p "$dir"/{etc,db,run,log,tmp,spool/{articles,overview,incoming/bad,outgoing,archive}}
  cp -a /etc/news/. "$dir/etc/"
  # Private inn.conf: every path into $dir, loopback only, our port.
  grep -vE '^(path[a-z]*|port|bindaddress6?|server|domain|pathhost|nnrpdpostport|organization|hismethod|ovmethod|mta|noreader|readerswhenstopped|docancels|logipaddr|nicekids|nicenewnews|nicennrpd|nnrpdloadlimit):' /etc/news/inn.conf > "$dir/etc/inn.conf"
  cat >> "$dir/etc/inn.conf" <<EOF
organization:   "peerpost test"
domain:         test.local
pathhost:       news.test.local
server:         127.0.0.1
port:           $port
bindaddress:    127.0.0.1
nnrpdpostport:  $port
noreader:       false
readerswhenstopped: true
hismethod:      hisv6
ovmethod:       tradindexed
mta:            "/bin/true %s"
logipaddr:      true
# Serve readers however busy the machine is (the default refuses them above a load of 16).
nnrpdloadlimit: 0
pathnews:       /usr/lib/news
pathbin:        /usr/lib/news/bin
pathcontrol:    /usr/lib/news/bin/control
pathfilter:     /etc/news/filter
pathetc:        $dir/etc
pathdb:         $dir/db
pathrun:        $dir/run
pathlog:        $dir/log
pathtmp:        $dir/tmp
pathhttp:       $dir/tmp
pathspool:      $dir/spool
patharticles:   $dir/spool/articles
pathoverview:   $dir/spool/overview
pathincoming:   $dir/spool/incoming
pathoutgoing:   $dir/spool/outgoing
patharchive:    $dir/spool/archive
EOF
  # No feed peers: every TCP client (from 127.0.0.1) is a *reader* -> nnrpd.
  # (Debian's default 'peer ME' lists localhost, which would make 127.0.0.1
  #  clients talk to innd's feeder side until they send MODE READER.)
  cat > "$dir/etc/incoming.conf" <<'EOF'
streaming: true
max-connections: 8
EOF
  cat > "$dir/etc/readers.conf" <<'EOF'
auth "localhost" {
    hosts: "localhost, 127.0.0.1, ::1, stdin"
    default: "<localhost>"
}
access "localhost" {
    users: "<localhost>"
    newsgroups: "*"
    access: RPA
    addcanlockuser: none
}
EOF
  install -m 644 /usr/lib/news/examples/active "$dir/db/active"
  # The groups asked for, in the active file before innd starts (no window in which
  # innd answers but a group is missing); ctlinnd newgroup adds groups later.
  for g in "$@"; do printf '%s 0000000000 0000000001 y\n' "$g" >> "$dir/db/active"; done
  install -m 644 /usr/lib/news/examples/newsgroups "$dir/db/newsgroups"
  : > "$dir/db/active.times"; : > "$dir/db/history"
  chown -R news:news "$dir"; chmod 755 "$dir"
  if ! setpriv --reuid=news --regid=news --init-groups test -w "$dir/db"; then
    echo "user news cannot write $dir/db: every parent dir of $dir must be world-executable (mktemp -d makes 0700 dirs)" >&2; exit 1; fi
  (cd "$dir/db" && asnews $BIN/makedbz -i -o -s 10000)
  # -f: stay in foreground (no fork), logs to pathlog; -c 0: accept old Date:s.
  # innd needs root only to bind <1024; we start it directly as news.
  # INN_PEER=1: 127.0.0.1 is also a feed peer (IHAVE to innd; readers then send MODE READER).
  if [ "${INN_PEER:-0}" = 1 ]; then
    printf 'peer local {\n  hostname: "127.0.0.1, localhost"\n}\n' >> "$dir/etc/incoming.conf"
  fi
  nohup setpriv --reuid=news --regid=news --init-groups env INNCONF="$dir/etc/inn.conf" \
        $BIN/innd -f -c 0 > "$dir/log/innd.stdout" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if [ -S "$dir/run/control" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    if ! kill -0 $pid 2>/dev/null; then echo "innd died:" >&2; cat "$dir/log/innd.stdout" "$dir/log/news.err" "$dir/log/errlog" 2>/dev/null >&2; exit 1; fi
    sleep 0.1
  done
  echo "dir=$dir logs=$dir/log (news.notice, news.err, errlog)  ctl: INNCONF=$dir/etc/inn.conf $BIN/ctlinnd ..." >&2
  echo "$pid"
  ;;
newgroup)
  dir=${2:?dir}; g=${3:?group}
  asnews $BIN/ctlinnd newgroup "$g" y peerpost
  ;;
stop)
  pid=${2:?pid}; dir=${3:-}
  if [ -n "$dir" ] && [ -S "$dir/run/control" ]; then asnews $BIN/ctlinnd -t 5 shutdown "test done" >/dev/null 2>&1 || true; fi
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  ;;
*) echo "usage: see header" >&2; exit 2;;
esac
