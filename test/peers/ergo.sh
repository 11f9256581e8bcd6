#!/usr/bin/env bash
# Ergo (https://ergo.chat), the IRCv3 reference server, on 127.0.0.1:PORT for
# peerpost's integration tests: draft/relaymsg, draft/chathistory, echo-message,
# message-tags, server-time, labeled-response and SASL PLAIN with NickServ
# accounts. Adapted from /work/shared/peers/ergo.sh.
#
#   ergo.sh start PORT [DIR]   write DIR/ircd.yaml, initdb, start `ergo run`,
#                              wait for the port, print the PID as the last line.
#   ergo.sh stop PID           SIGTERM the server (SIGKILL after a grace period).
#   ergo.sh bin                print the binary's path (finding or unpacking it),
#                              or exit 3 saying how to get it.
#   ergo.sh fetch              download Ergo's release (v$ERGO_VERSION, linux
#                              x86_64) from GitHub into the cache, checked against
#                              the release's own checksums file.
#
# Where the binary comes from, first found wins:
#   $ERGO_BIN; ../shared/peers/bin/ergo.xz beside the checkout (the team's
#   machines and CI: unpacked once into a cache, sha256-checked); the cache that
#   `ergo.sh fetch` fills (${XDG_CACHE_HOME:-~/.cache}/peerpost/ergo-VERSION).
# Debian has no package of this Ergo (its `ergo` package is a chemistry program).
#
# Server: plaintext on 127.0.0.1:PORT, name ergo.test.local, relaymsg on
# (separator "/", chanops may use it), in-memory history with chathistory,
# NickServ REGISTER without mail verification, fakelag and throttles off.
# Log: DIR/ergo.log. Environment: ERGO_START_TIMEOUT, ERGO_STOP_TIMEOUT (s); ERGO_CASEMAPPING
# (ascii, the default here; precis, Ergo's own default: Unicode names, CASEMAPPING=ascii UTF8MAPPING=rfc8265);
# ERGO_FAKELAG=1 turns fakelag on (Ergo's default throttle: 5 lines at once, then 2 a second).
set -euo pipefail

ERGO_VERSION=2.15.0
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"
CACHE_ROOT="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/peerpost"

find_bin() {
    if [ -n "${ERGO_BIN:-}" ]; then
        [ -x "$ERGO_BIN" ] || { echo "ergo.sh: ERGO_BIN=$ERGO_BIN is not an executable file" >&2; return 1; }
        echo "$ERGO_BIN"; return 0
    fi
    local shared="$REPO_DIR/../shared/peers/bin" common
    # A git worktree elsewhere: ../shared beside the main checkout.
    if [ ! -d "$shared" ] && common=$(git -C "$REPO_DIR" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
        [ -d "$common/../../shared/peers/bin" ] && shared="$(cd "$common/../../shared/peers/bin" && pwd)"
    fi
    if [ -x "$shared/ergo" ]; then echo "$shared/ergo"; return 0; fi
    if [ -f "$shared/ergo.xz" ] && [ -f "$shared/ergo.sha256" ]; then
        local sum cache tmp
        sum=$(cut -c1-64 "$shared/ergo.sha256")
        cache="$CACHE_ROOT/ergo-shared-${sum:0:12}"
        if [ ! -x "$cache/ergo" ]; then
            # Test files run in parallel, and each may be the first here: each unpacks to a file of its own, and the
            # rename puts a whole, checked binary in place (the same one, whoever renames last).
            mkdir -p "$cache" && tmp=$(mktemp "$cache/ergo.XXXXXX") && xz -dc "$shared/ergo.xz" >"$tmp" \
              && echo "$sum  $tmp" | sha256sum -c --quiet - \
              && chmod 755 "$tmp" && mv -f "$tmp" "$cache/ergo" \
              || { rm -f "${tmp:-}"; echo "ergo.sh: could not unpack $shared/ergo.xz (checked against ergo.sha256)" >&2; return 1; }
        fi
        echo "$cache/ergo"; return 0
    fi
    if [ -x "$CACHE_ROOT/ergo-$ERGO_VERSION/ergo" ]; then echo "$CACHE_ROOT/ergo-$ERGO_VERSION/ergo"; return 0; fi
    echo "ergo.sh: no Ergo binary here. Get Ergo $ERGO_VERSION's release (about 10 MB from GitHub) with:" >&2
    echo "  bash test/peers/ergo.sh fetch" >&2
    echo "or point ERGO_BIN at an ergo binary you have." >&2
    return 3
}

cmd_fetch() {
    local base="https://github.com/ergochat/ergo/releases/download/v$ERGO_VERSION"
    local tarball="ergo-$ERGO_VERSION-linux-x86_64.tar.gz" sums="ergo-$ERGO_VERSION-checksums.txt"
    [ "$(uname -m)" = x86_64 ] || die "fetch knows the linux x86_64 release only; set ERGO_BIN to an ergo for $(uname -m)"
    local dest="$CACHE_ROOT/ergo-$ERGO_VERSION" tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/ergo-fetch.XXXXXX")
    log "downloading $base/$tarball"
    curl -fsSL --retry 2 -o "$tmp/$tarball" "$base/$tarball" || die "download of $base/$tarball failed (no network?)"
    curl -fsSL --retry 2 -o "$tmp/$sums" "$base/$sums" || die "download of $base/$sums failed"
    (cd "$tmp" && grep " $tarball\$" "$sums" | sha256sum -c --quiet -) || die "$tarball does not match $sums"
    tar -xzf "$tmp/$tarball" -C "$tmp"
    local found
    found=$(find "$tmp" -type f -name ergo -perm -u+x | head -1)
    [ -n "$found" ] || die "no ergo binary inside $tarball"
    mkdir -p "$dest" && mv "$found" "$dest/ergo" && rm -rf "$tmp"
    log "Ergo $ERGO_VERSION is in $dest/ergo"
}

die() { echo "ergo.sh: $*" >&2; exit 1; }
log() { echo "ergo.sh: $*" >&2; }

usage() {
    echo "usage: $0 start PORT [DIR] | $0 stop PID | $0 bin | $0 fetch" >&2
    exit 2
}

port_answers() {
    # succeeds if something accepts a TCP connection on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() {
    # alive = exists and is not a zombie
    local pid=$1 state
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != "Z" ] && [ "$state" != "X" ]
}

write_config() {
    local port=$1 dir=$2 fakelag=false
    [ -z "${ERGO_FAKELAG:-}" ] || fakelag=true
    cat >"$dir/ircd.yaml" <<EOF
# written by peerpost test/peers/ergo.sh: a minimal Ergo for tests (after Ergo's default.yaml)
network:
    name: ErgoTest

server:
    name: ergo.test.local
    listeners:
        "127.0.0.1:${port}": {}      # plaintext, loopback only, no TLS
    casemapping: "${ERGO_CASEMAPPING:-ascii}"
    enforce-utf8: true
    lookup-hostnames: false
    forward-confirm-hostnames: false
    check-ident: false
    coerce-ident: '~u'
    relaymsg:
        enabled: true
        separators: "/"
        available-to-chanops: true
    max-sendq: 96k
    compatibility:
        force-trailing: true
        send-unprefixed-sasl: true
        allow-truncation: false
    ip-limits:
        count: false
        throttle: false
        max-concurrent-connections: 1000
        window: 10m
        max-connections-per-window: 10000
        cidr-len-ipv4: 32
        cidr-len-ipv6: 64
        exempted:
            - "localhost"
    ip-cloaking:
        # users keep their real hostnames; netname/num-bits still feed the
        # account cloak that RELAYMSG uses as host of the relayed nick
        enabled: false
        enabled-for-always-on: true
        netname: "irc"
        cidr-len-ipv4: 32
        cidr-len-ipv6: 64
        num-bits: 64
    secure-nets:
        - "127.0.0.0/8"
    suppress-lusers: false

accounts:
    authentication-enabled: true
    registration:
        enabled: true
        allow-before-connect: true
        throttling:
            enabled: false
            duration: 10m
            max-attempts: 1000
        bcrypt-cost: 4
        verify-timeout: "32h"
        email-verification:
            enabled: false
    login-throttling:
        enabled: false
        duration: 1m
        max-attempts: 1000
    skip-server-password: false
    login-via-pass-command: true
    advertise-scram: true
    require-sasl:
        enabled: false
    nick-reservation:
        enabled: true
        additional-nick-limit: 0
        method: optional
        allow-custom-enforcement: false
        guest-nickname-format: "Guest-*"
        force-guest-format: false
        force-nick-equals-account: false
        forbid-anonymous-nick-changes: false
    multiclient:
        enabled: true
        allowed-by-default: true
        always-on: "opt-in"
        auto-away: "opt-in"
    vhosts:
        enabled: false
    default-user-modes: +i

channels:
    default-modes: +nt
    max-channels-per-client: 100
    operator-only-creation: false
    registration:
        enabled: true
        operator-only: false
        max-channels-per-account: 15
    list-delay: 0s
    invite-expiration: 24h

logging:
    -
        method: stderr
        type: "* -userinput -useroutput"
        level: info

debug:
    recover-from-errors: true

lock-file: "${dir}/ircd.lock"

datastore:
    path: "${dir}/ircd.db"
    autoupgrade: true
    mysql:
        enabled: false

languages:
    enabled: false

limits:
    nicklen: 32
    identlen: 20
    realnamelen: 150
    channellen: 64
    awaylen: 390
    kicklen: 390
    topiclen: 390
    monitor-entries: 100
    whowas-entries: 100
    chan-list-modes: 100
    registration-messages: 1024
    multiline:
        max-bytes: 4096
        max-lines: 100

fakelag:
    # ERGO_FAKELAG=1: on, with Ergo's default.yaml values (after 5 lines at once, 2 a second)
    enabled: ${fakelag}
    window: 1s
    burst-limit: 5
    messages-per-window: 2
    cooldown: 2s

roleplay:
    enabled: false

history:
    enabled: true
    channel-length: 2048
    client-length: 256
    autoresize-window: 3d
    autoreplay-on-join: 0
    chathistory-maxmessages: 1000
    znc-maxmessages: 2048
    restrictions:
        expire-time: 1w
        query-cutoff: 'none'
        grace-period: 1h
    persistent:
        # persistent history needs MySQL; history is in memory only
        # (an unregistered channel loses it when its last member leaves)
        enabled: false
    retention:
        allow-individual-delete: false
        enable-account-indexing: false
    tagmsg-storage:
        default: false
        whitelist:
            - "+draft/react"
            - "+react"

allow-environment-overrides: false
EOF
}

cmd_start() {
    local port=${1:-} dir=${2:-}
    [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] \
        || die "bad PORT '$port'"
    ERGO_BIN=$(find_bin) || exit $?
    if port_answers "$port"; then
        die "127.0.0.1:$port is already in use"
    fi
    if [ -z "$dir" ]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/ergo-$port.XXXXXX")
    else
        mkdir -p "$dir"
    fi
    dir=$(cd "$dir" && pwd)

    write_config "$port" "$dir"
    if [ ! -e "$dir/ircd.db" ]; then
        "$ERGO_BIN" initdb --conf "$dir/ircd.yaml" --quiet >>"$dir/ergo.log" 2>&1 \
            || { tail -n 20 "$dir/ergo.log" >&2; die "initdb failed"; }
    fi

    # start detached (own session), stdio away from the caller's pipes
    local pid
    if command -v setsid >/dev/null 2>&1; then
        setsid "$ERGO_BIN" run --conf "$dir/ircd.yaml" </dev/null >>"$dir/ergo.log" 2>&1 &
    else
        nohup "$ERGO_BIN" run --conf "$dir/ircd.yaml" </dev/null >>"$dir/ergo.log" 2>&1 &
    fi
    pid=$!
    echo "$pid" >"$dir/ergo.pid"

    local timeout=${ERGO_START_TIMEOUT:-20}
    local deadline=$(( $(date +%s) + timeout ))
    until port_answers "$port"; do
        if ! pid_alive "$pid"; then
            tail -n 20 "$dir/ergo.log" >&2
            die "ergo (pid $pid) exited during startup"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -n 20 "$dir/ergo.log" >&2
            kill -TERM "$pid" 2>/dev/null || true
            die "port $port did not answer within ${timeout}s"
        fi
        sleep 0.1
    done
    log "ergo listening on 127.0.0.1:$port (pid $pid, dir $dir, log $dir/ergo.log)"
    echo "$pid"
}

cmd_stop() {
    local pid=${1:-}
    [[ "$pid" =~ ^[0-9]+$ ]] || die "bad PID '$pid'"
    if ! pid_alive "$pid"; then
        log "pid $pid is not running"
        return 0
    fi
    # refuse to signal something that is not an ergo server
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    case "$cmdline" in
        *ergo*" run "*) ;;
        *) die "pid $pid does not look like 'ergo run' ($cmdline)";;
    esac
    kill -TERM "$pid"
    local timeout=${ERGO_STOP_TIMEOUT:-10}
    local deadline=$(( $(date +%s) + timeout ))
    while pid_alive "$pid"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    log "stopped ergo pid $pid"
}

case "${1:-}" in
    start) shift; [ $# -ge 1 ] && [ $# -le 2 ] || usage; cmd_start "$@";;
    bin)   find_bin;;
    fetch) cmd_fetch;;
    stop)  shift; [ $# -eq 1 ] || usage; cmd_stop "$1";;
    *) usage;;
esac
