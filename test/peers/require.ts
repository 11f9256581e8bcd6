/**
 * The real peers a test needs, from the one place that installs them:
 * test/peers/install.sh (also what .ci/run runs). A peer's name is its Debian
 * package's name (`bash test/peers/install.sh --list`).
 *
 * A peer that is missing is installed when we run as root (install.sh takes a
 * lock, so two test files that start at once wait for each other rather than
 * collide on apt's lock); not root, the test fails with the one command that
 * installs it. Never a silent skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const INSTALL_SH = fileURLToPath(new URL('../../../test/peers/install.sh', import.meta.url));

/** The command a person runs to install these peers. */
export const installCommand = (peers: readonly string[]): string =>
  `sudo bash test/peers/install.sh ${peers.join(' ')}`;

/** Peers found installed in this process (asked once each). */
const present = new Set<string>();

/** Which of these peers are not installed (install.sh --check). */
function missingOf(peers: readonly string[]): string[] {
  const r = spawnSync('bash', [INSTALL_SH, '--check', ...peers], { encoding: 'utf8' });
  if (r.status === 0) return [];
  if (r.status === 1) return r.stdout.split('\n').filter(Boolean);
  throw new Error(`test/peers/install.sh --check ${peers.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
}

/**
 * Make sure these peers are installed: as root, install what is missing (waiting
 * for any other install on this machine); otherwise throw with the command to run.
 */
export function requirePeer(...peers: string[]): void {
  const asked = peers.filter((p) => !present.has(p));
  if (asked.length === 0) return;
  let missing = missingOf(asked);
  if (missing.length > 0 && process.getuid?.() === 0) {
    try {
      // apt's output goes to our stderr (stdout is the test runner's).
      execFileSync('bash', [INSTALL_SH, ...missing], { stdio: ['ignore', 2, 2] });
    } catch (err) {
      throw new Error(
        `installing the test peers ${missing.join(', ')} failed (${(err as Error).message.split('\n')[0]}); ` +
          `its output is above; to try again:\n  bash test/peers/install.sh ${missing.join(' ')}`,
        { cause: err },
      );
    }
    missing = missingOf(asked);
  }
  if (missing.length > 0)
    throw new Error(
      `this test needs real peers that are not installed: ${missing.join(', ')}. Install them with:\n  ${installCommand(missing)}\n` +
        `(run as root, the tests install them themselves)`,
    );
  for (const p of asked) present.add(p);
}

/**
 * The refusal of a test that only root can run (a peer that must run as its own system user), with the one command
 * that runs this test file (or benchmark) as root; undefined as root. `argv` and `cwd` are this process's (node
 * --test runs each test file in a process of its own, with the file as argv[1]).
 */
export function rootRefusal(
  why: string,
  uid: number | undefined,
  argv: readonly string[],
  cwd: string,
  opts: { node?: string; note?: string } = {},
): string | undefined {
  if (uid === 0 || uid === undefined) return undefined;
  const file = argv[1] ? relative(cwd, argv[1]) || argv[1] : '';
  const command = file
    ? `sudo ${opts.node ?? 'node'} ${[file, ...argv.slice(2)].join(' ')}`
    : 'sudo npm test (from the root of the checkout)';
  return `${why}; this test runs as uid ${uid}. Run it as root${opts.note ? ` (${opts.note})` : ''}:\n  ${command}`;
}

/** Fail now, with rootRefusal's message, unless we are root. */
export function requireRoot(why: string, note?: string): void {
  const refusal = rootRefusal(why, process.getuid?.(), process.argv, process.cwd(), { node: process.execPath, note });
  if (refusal !== undefined) throw new Error(refusal);
}
