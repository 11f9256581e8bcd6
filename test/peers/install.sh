#!/usr/bin/env bash
# The one place that installs the real peers peerpost's tests and benchmarks talk to,
# from Debian's packages. .ci/run runs it with no argument (every peer); a test that
# finds its peer missing runs it (as root) with that peer's name, or fails with the
# command to run (not root). Installs run one at a time under a lock, so two test
# files starting at once wait for each other instead of colliding on apt's lock.
#
# Usage: install.sh [peer ...]        install these peers (no argument: all of the tests' peers)
#        install.sh --check [peer ...] exit 0 when all are installed; else print the
#                                      missing ones, exit 1 (no root, no lock needed)
#        install.sh --list             the tests' peer names, one a line
#        install.sh --list-bench       the benchmarks' own peers, one a line
# A peer name is its Debian package's name (see PEERS and BENCH_PEERS below). The peers in
# BENCH_PEERS are installed only when named (npm run bench names the ones it needs): no test
# needs them, and no argument does not install them.
#
# Notes for a machine that is not a throwaway one:
# - The tests start private daemons of their own and never the system's services; this
#   script starts none either (whether a package's postinst starts its service is the
#   machine's policy: in containers /usr/sbin/policy-rc.d usually says no).
# - postfix is installed with debconf "No configuration" (the tests use only its
#   smtp-sink). Installing it replaces another MTA (exim4) if one is installed.
# - inn2's postinst needs
#   /etc/postfix/main.cf (newaliases) and a domain in /etc/news/inn.conf: both are made
#   here when missing (main.cf from Debian's main.cf.debian, "domain: test.local").
#   An inn2 left half-configured by an earlier failed install is fixed and configured first.
set -euo pipefail

# The peers (Debian package names). inn2 is installed last, after postfix.
PEERS=(finger fingerd socat ngircd openssl inspircd atheme-services python3 postfix python3-aiosmtpd swaks chromium inn2 python3-feedparser faketime postgresql-15)
# The anchors only benchmarks run (bench/archive.ts: public-inbox, with Xapian, side by side with the archive).
BENCH_PEERS=(public-inbox)

LOCK=${PEERPOST_PEERS_LOCK:-/var/lock/peerpost-test-peers.lock}
# Written after a successful `apt-get update`: within the hour, installs skip the update
# (and still update once if a download fails).
STAMP=${LOCK%.lock}.apt-updated
APT_OPTS=(-o DPkg::Lock::Timeout=600)
export DEBIAN_FRONTEND=noninteractive

say() { echo "test/peers/install.sh: $*" >&2; }

known() {
  local p
  for p in "${PEERS[@]}" "${BENCH_PEERS[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}

# Installed, and usable the way the tests use it.
installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ] || return 1
  case "$1" in
    python3) python3 -W ignore -c 'import nntplib' 2>/dev/null ;;
    inn2) [ -x /usr/lib/news/bin/innd ] ;;
    postgresql-15) [ -x /usr/lib/postgresql/15/bin/postgres ] && [ -x /usr/lib/postgresql/15/bin/initdb ] ;;
    public-inbox) perl -MSearch::Xapian -e 1 2>/dev/null ;;
    *) return 0 ;;
  esac
}

missing_of() {
  local p
  for p in "$@"; do installed "$p" || echo "$p"; done
}

mode=install
case "${1:-}" in
  --check) mode=check; shift ;;
  --list) printf '%s\n' "${PEERS[@]}"; exit 0 ;;
  --list-bench) printf '%s\n' "${BENCH_PEERS[@]}"; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 0 ;;
esac

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${PEERS[@]}")
for p in "${wanted[@]}"; do
  known "$p" || { say "no peer named '$p'; the peers are: ${PEERS[*]} (benchmarks: ${BENCH_PEERS[*]})"; exit 2; }
done
# inn2 needs an MTA: postfix, or apt would pull in exim4.
if printf '%s\n' "${wanted[@]}" | grep -qx inn2 && ! printf '%s\n' "${wanted[@]}" | grep -qx postfix; then
  wanted=(postfix "${wanted[@]}")
fi

mapfile -t missing < <(missing_of "${wanted[@]}")
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$mode" = check ]; then printf '%s\n' "${missing[@]}"; exit 1; fi
if [ "$(id -u)" != 0 ]; then
  say "not installed: ${missing[*]}; install as root with:"
  echo "  sudo bash test/peers/install.sh ${missing[*]}" >&2
  exit 1
fi

# One install at a time on this machine; the next one waits, then finds what is still missing.
exec 9>>"$LOCK"
if ! flock -n 9; then
  say "another install of test peers is running; waiting for it (lock $LOCK)"
  flock -w 1800 9 || { say "gave up after 30 minutes waiting for $LOCK"; exit 1; }
fi
mapfile -t missing < <(missing_of "${wanted[@]}")
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
say "installing ${missing[*]}"

updated=0
update() {
  [ "$updated" = 0 ] || return 0
  apt-get "${APT_OPTS[@]}" update -qq >&2
  updated=1
  touch "$STAMP"
}
# apt's lists are there and this script updated them within the hour: no second update.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || [ -z "$(find "$STAMP" -mmin -60 2>/dev/null)" ]; then
  update
fi
# Download (updating the lists once more if that fails on stale lists), then install from the cache.
fetch() {
  apt-get "${APT_OPTS[@]}" install -y --no-install-recommends --download-only "$@" >&2 ||
    { [ "$updated" = 0 ] && update && apt-get "${APT_OPTS[@]}" install -y --no-install-recommends --download-only "$@" >&2; }
}
install_pkgs() { apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@" >&2; }

# What inn2's postinst needs, made before it runs (idempotent):
# - newaliases needs /etc/postfix/main.cf, and postfix with "No configuration" leaves none:
#   Debian's own starting point, as postfix's postinst suggests (postfix stays stopped);
# - a host whose name has no domain makes it fail ("innconfval: hostname does not resolve
#   or domain not set in inn.conf"): a domain in /etc/news/inn.conf.
prepare_inn2() {
  if [ -d /etc/postfix ] && [ ! -f /etc/postfix/main.cf ] && [ -f /usr/share/postfix/main.cf.debian ]; then
    say "/etc/postfix/main.cf is missing (postfix: No configuration); copying /usr/share/postfix/main.cf.debian for inn2's newaliases (postfix is not started)"
    cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
  fi
  if [ -f /etc/news/inn.conf ] && ! grep -qE '^domain:[[:space:]]*[^[:space:]]' /etc/news/inn.conf; then
    say "setting domain: test.local in /etc/news/inn.conf (inn2's postinst needs a domain)"
    sed -i 's/^#domain:.*/domain:                      test.local/' /etc/news/inn.conf
  fi
}
# An inn2 left half-configured by an earlier failed install would make every apt-get fail.
case "$(dpkg-query -W -f='${db:Status-Status}' inn2 2>/dev/null || true)" in
  '' | not-installed | config-files | installed) ;;
  *) prepare_inn2; dpkg --configure -a >&2 ;;
esac

plain=()
inn=0
for p in "${missing[@]}"; do
  if [ "$p" = inn2 ]; then inn=1; else plain+=("$p"); fi
done

if [ ${#plain[@]} -gt 0 ]; then
  if printf '%s\n' "${plain[@]}" | grep -qx postfix; then
    # "No configuration": nothing configured, nothing started; the tests use only smtp-sink.
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  fi
  fetch "${plain[@]}"
  install_pkgs "${plain[@]}"
fi

if [ "$inn" = 1 ]; then
  prepare_inn2
  fetch inn2
  # On a fresh machine inn.conf arrives with the package: the postinst fails for want of a
  # domain, which is then set, and the package configured again.
  install_pkgs inn2 || say "inn2's postinst failed; configuring it again after the fixes"
  prepare_inn2
  dpkg --configure -a >&2
fi

mapfile -t left < <(missing_of "${wanted[@]}")
if [ ${#left[@]} -gt 0 ]; then
  say "still not installed after apt-get: ${left[*]}"
  if printf '%s\n' "${left[@]}" | grep -qx python3; then
    say "python3 is there but has no nntplib (removed from the standard library in Python 3.13): pip install standard-nntplib"
  fi
  exit 1
fi
say "installed ${missing[*]}"
