/**
 * A private Postfix instance for the benchmarks: smtpd on 127.0.0.1:PORT relaying every message to one relay host
 * (smtp-sink), with its own config, queue and data directories under a temporary directory and its log in a file
 * there. /etc/postfix is only read (Postfix's own files: postfix-files, dynamicmaps.cf); the system's Postfix, if
 * any, is left alone. Needs root (Postfix drops to its mail_owner, `postfix`, which the package creates).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../../test/peers/require.js';

export interface PostfixRelay {
  /** smtpd's port on 127.0.0.1. */
  port: number;
  dir: string;
  /** Messages in the queue (taken by smtpd, not yet relayed). */
  queued(): number;
  /** Of them, those that failed once and wait for a retry (the relay host refused or was down). */
  deferred(): number;
  stop(): void;
}

const SERVICES = `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`;

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    n += e.isDirectory() ? countFiles(join(dir, e.name)) : e.isFile() ? 1 : 0;
  return n;
}

/** Start Postfix: smtpd on 127.0.0.1:port takes mail for `domain` and relays it to 127.0.0.1:relayPort. */
export function startPostfixRelay(port: number, relayPort: number, domain: string): PostfixRelay {
  if (userInfo().uid !== 0)
    throw new Error('a private Postfix instance needs root (its daemons drop to the postfix user): run as root');
  requirePeer('postfix');
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-postfix-'));
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  const spool = join(dir, 'spool');
  const data = join(dir, 'data');
  for (const d of [etc, spool, data]) mkdirSync(d);
  const pf = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  const pg = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(data, pf, pg);
  writeFileSync(
    join(etc, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${spool}
data_directory = ${data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = relay.bench.example
mydestination =
relay_domains = ${domain}
relayhost = [127.0.0.1]:${relayPort}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtp_destination_concurrency_limit = 20
alias_maps =
alias_database =
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = ${join(dir, 'maillog')}
maillog_file_prefixes = ${tmpdir()}
`,
  );
  writeFileSync(join(etc, 'master.cf'), `127.0.0.1:${port} inet n - n - - smtpd\n${SERVICES}`);
  const postfix = (cmd: string) => execFileSync('/usr/sbin/postfix', ['-c', etc, cmd], { stdio: 'pipe' });
  try {
    postfix('start');
  } catch (err) {
    throw new Error(`Postfix did not start (its log: ${join(dir, 'maillog')}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const queue = ['maildrop', 'incoming', 'active', 'deferred', 'hold'];
  return {
    port,
    dir,
    queued: () => queue.reduce((n, q) => n + countFiles(join(spool, q)), 0),
    deferred: () => countFiles(join(spool, 'deferred')),
    stop() {
      try {
        postfix('stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
