/**
 * Run the real `peerpost` command as a child process, as a user would, in a
 * temporary directory of its own. Everything listens on 127.0.0.1 or on a Unix
 * socket inside that directory.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../src/bin.js', import.meta.url));
export const HELPERS = fileURLToPath(new URL('./', import.meta.url));

export interface World {
  dir: string;
  config: string;
  data: string;
  sink(name: string): string;
  writeConfig(yaml: string): void;
  /** Deliveries recorded by a sink account's `file`. */
  delivered(
    name: string,
  ): { id: string; endpoint: string; body: string; subject: string | null; shape: string; attempt: number }[];
  cleanup(): void;
}

/** A temporary directory with a config whose `plugins:` section knows the test plugins. */
export function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'pp-'));
  const config = join(dir, 'peerpost.yaml');
  const w: World = {
    dir,
    config,
    data: join(dir, 'data'),
    sink: (name) => join(dir, `${name}.jsonl`),
    writeConfig(yaml) {
      writeFileSync(
        config,
        `plugins:\n  sink: ${join(HELPERS, 'sink-plugin.js')}\n  sinkart: ${join(HELPERS, 'sink-article-plugin.js')}\nnode:\n  hostname: test.example\n  data: ${w.data}\n${yaml}`,
      );
    },
    delivered(name) {
      const f = w.sink(name);
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return w;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `peerpost ARGS` to completion. */
export function cli(
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(opts.input ?? '');
  });
}

/** `peerpost post -c CONFIG -b BRIDGE --from FROM [--subject S] TEXT`, which must succeed; the stored post's id. */
export async function cliPost(
  w: Pick<World, 'config'>,
  bridge: string,
  from: string,
  text: string,
  subject?: string,
): Promise<string> {
  const r = await cli([
    'post',
    '-c',
    w.config,
    '-b',
    bridge,
    '--from',
    from,
    ...(subject ? ['--subject', subject] : []),
    text,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return /<([^>]+)>/.exec(r.stdout)![1]!;
}

export interface Running {
  proc: ChildProcess;
  /** Every log line so far (JSON lines, since stdout is not a terminal). */
  logs: string[];
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Start `peerpost start -c CONFIG` (or, with viaEnv, PEERPOST_CONFIG=CONFIG peerpost start); resolves once it
 * says it is up (or rejects with its output when it exits).
 */
/**
 * The node flags on the first line of the `peerpost` executable (`#!/usr/bin/env -S node FLAGS`), which
 * `peerpost start` runs with.
 */
export function shebangFlags(bin = BIN): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!.*\bnode\b(.*)$/.exec(first)?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/**
 * `nodeFlags`: node's own flags, before BIN. The daemon runs as `node BIN`, without the executable's flags unless
 * given `nodeFlags: shebangFlags()` (as `peerpost start` runs): the benches do, their memory figures depend on them.
 */
export async function startDaemon(
  config: string,
  extra: string[] = [],
  opts: { cwd?: string; waitUp?: boolean; viaEnv?: boolean; nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Running> {
  const which = opts.viaEnv ? [] : ['-c', config];
  const proc = spawn(
    process.execPath,
    [...(opts.nodeFlags ?? []), BIN, 'start', ...which, '--log-level', 'debug', ...extra],
    {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env, ...(opts.viaEnv ? { PEERPOST_CONFIG: config } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  const onLine = (l: string) => {
    logs.push(l);
    for (const w of [...waiters])
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
  };
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => d.toString('utf8').split('\n').filter(Boolean).forEach(onLine));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  const waitForLog = (re: RegExp, timeoutMs = 10_000) => {
    const seen = logs.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no log line matching ${re} within ${timeoutMs} ms; logs:\n${logs.join('\n')}`)),
        timeoutMs,
      );
      waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`peerpost exited (${code}) before a log line matching ${re}; logs:\n${logs.join('\n')}`));
      });
    });
  };
  const r: Running = {
    proc,
    logs,
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  if (opts.waitUp !== false) await waitForLog(/is up/);
  return r;
}

/**
 * Start the daemon and stop it (SIGTERM), as an operator who has run peerpost before: only `peerpost start`
 * creates the store, which the other commands then use with the daemon down.
 */
export async function runOnce(config: string): Promise<void> {
  const d = await startDaemon(config);
  const code = await d.stop('SIGTERM');
  if (code !== 0) throw new Error(`peerpost exited ${code} after SIGTERM; logs:\n${d.logs.join('\n')}`);
}

/** Poll until fn() is truthy. */
export async function until<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // Awaited: an async check's promise is truthy, and would pass at once without ever being looked at.
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
