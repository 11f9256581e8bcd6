/**
 * The operator finds the daemon's store, always: the real `peerpost` command,
 * run from other working directories than the daemon's, with the config named
 * by -c or $PEERPOST_CONFIG. A relative node.data is read from the config
 * file's directory; no command but `start` creates a store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, runOnce, HELPERS } from '../helpers/daemon.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A config in DIR/NAME/peerpost.yaml with `data: ./data` (relative), and empty directories to run commands from. */
function place(dir: string, name: string, yaml: string): { config: string; data: string } {
  mkdirSync(join(dir, name), { recursive: true });
  const config = join(dir, name, 'peerpost.yaml');
  writeFileSync(
    config,
    `plugins:\n  sink: ${join(HELPERS, 'sink-plugin.js')}\nnode:\n  hostname: ${name}.test.example\n  data: ./data\n${yaml}`,
  );
  return { config, data: join(dir, name, 'data') };
}

const sinks = (dir: string, name: string) => `
accounts:
  sink.a: { file: ${join(dir, `${name}-a.jsonl`)} }
bridges:
  commons:
    endpoints: [sink.a/one]
`;

function emptyDir(dir: string, name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

test('status from another working directory finds the running daemon; the store is beside the config, not where it ran', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const { config, data } = place(w.dir, 'etc', sinks(w.dir, 'etc'));
  const ranIn = emptyDir(w.dir, 'ran-here');
  const elsewhere = emptyDir(w.dir, 'elsewhere');
  const d = await startDaemon(config, [], { cwd: ranIn });
  t.after(() => d.stop('SIGKILL'));
  assert.ok(existsSync(join(data, 'peerpost.db')), `the store is in ${data}`);
  assert.deepEqual(readdirSync(ranIn), [], "nothing in the daemon's working directory");

  const byOption = await cli(['status', '-c', config], { cwd: elsewhere });
  assert.equal(byOption.code, 0, byOption.stdout + byOption.stderr);
  assert.ok(byOption.stdout.includes(`data ${data}`), byOption.stdout);
  const byEnv = await cli(['status'], { cwd: elsewhere, env: { PEERPOST_CONFIG: config } });
  assert.equal(byEnv.code, 0, byEnv.stdout + byEnv.stderr);
  assert.match(byEnv.stdout, /sink\.a\s+connected for/);
  // A relative -c is read from the working directory; node.data from the config's.
  const relative = await cli(['status', '-c', '../etc/peerpost.yaml'], { cwd: elsewhere });
  assert.equal(relative.code, 0, relative.stdout + relative.stderr);
  assert.deepEqual(readdirSync(elsewhere), [], 'no command made anything where it ran');
});

test('subscribers add (the mail plugin) with no store refuses, creates nothing, names the config and the path, exits 7', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const [listen, smart] = [await freePort(), await freePort()];
  const { config, data } = place(
    w.dir,
    'lists',
    `
accounts:
  mail.test:
    domain: lists.test.example
    listen: 127.0.0.1:${listen}
    smtp: { host: 127.0.0.1, port: ${smart}, fromRewrite: never }
bridges:
  commons:
    endpoints: [{ endpoint: mail.test/commons, policy: open }]
`,
  );
  const here = emptyDir(w.dir, 'admin-home');
  const add = await cli(['subscribers', 'commons', 'add', 'alice@example.org', '-c', config], { cwd: here });
  assert.equal(add.code, 7, add.stdout + add.stderr);
  assert.equal(add.stdout, '', 'nothing claims success');
  assert.ok(add.stderr.includes(`there is no peerpost store in ${data}`), add.stderr);
  assert.ok(add.stderr.includes(`node.data of ${config}, given with -c`), add.stderr);
  assert.match(add.stderr, /-c FILE or PEERPOST_CONFIG=FILE/);
  assert.match(add.stderr, /set node\.data/);
  assert.equal(existsSync(data), false, 'no data directory was created');
  assert.deepEqual(readdirSync(here), [], 'nothing was created where the command ran');

  // The other commands that use the store say the same, with the same code: never "not running", never a new store.
  for (const args of [
    ['status'],
    ['status', '--json'],
    ['outbox'],
    ['outbox', '--retry', '1'],
    ['post', '-b', 'commons', 'hello'],
    ['held', 'commons'],
  ]) {
    const r = await cli([...args, '-c', config], { cwd: here });
    assert.equal(r.code, 7, `peerpost ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '', `peerpost ${args.join(' ')} printed nothing on stdout`);
    assert.ok(r.stderr.includes(`there is no peerpost store in ${data}`), r.stderr);
  }
  assert.equal(existsSync(data), false, 'still no data directory');

  // Once peerpost has run with this config, the same command works with the daemon down.
  await runOnce(config);
  const again = await cli(['subscribers', 'commons', 'add', 'alice@example.org', '-c', config], { cwd: here });
  assert.equal(again.code, 0, again.stderr);
  const list = await cli(['subscribers', 'commons', '--json', '-c', config], { cwd: here });
  assert.ok(list.stdout.includes('alice@example.org'), list.stdout);
  const status = await cli(['status', '-c', config], { cwd: here });
  assert.equal(status.code, 3, 'with a store and no daemon: not running');
  assert.deepEqual(readdirSync(here), []);
});

test('-c and PEERPOST_CONFIG choose the config (-c first); with --verbose the first line names the config and store', async (t) => {
  const w = world();
  t.after(() => w.cleanup());
  const a = place(w.dir, 'a', sinks(w.dir, 'a'));
  const b = place(w.dir, 'b', sinks(w.dir, 'b'));
  const cwd = emptyDir(w.dir, 'cwd');
  // The daemon finds its config the same way as the commands: here by $PEERPOST_CONFIG.
  const d = await startDaemon(a.config, [], { cwd, viaEnv: true });
  t.after(() => d.stop('SIGKILL'));
  assert.ok(existsSync(join(a.data, 'peerpost.db')));

  const env = { PEERPOST_CONFIG: a.config };
  const viaEnv = await cli(['status', '--verbose', '--json'], { cwd, env });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.equal(viaEnv.stderr.split('\n')[0], `peerpost: config ${a.config} ($PEERPOST_CONFIG), store ${a.data}`);
  const s = JSON.parse(viaEnv.stdout) as { running: boolean; config: string; data: string };
  assert.equal(s.running, true, '--json stays parseable: the config line is on stderr');
  assert.equal(s.config, a.config);
  assert.equal(s.data, a.data);

  // -c wins over $PEERPOST_CONFIG: b has no store yet.
  const viaOption = await cli(['status', '-c', b.config, '--verbose'], { cwd, env });
  assert.equal(viaOption.code, 7, viaOption.stdout + viaOption.stderr);
  const lines = viaOption.stderr.split('\n');
  assert.equal(lines[0], `peerpost: config ${b.config} (-c), store ${b.data} (no store there yet)`);
  assert.ok(lines[1]!.includes(`there is no peerpost store in ${b.data}`), viaOption.stderr);

  const check = await cli(['check', '--verbose', '-c', b.config], { cwd, env });
  assert.equal(check.code, 0, check.stderr);
  assert.equal(check.stderr.split('\n')[0], `peerpost: config ${b.config} (-c), store ${b.data} (no store there yet)`);
  assert.ok(check.stdout.includes(`data in ${b.data} (no store there yet: peerpost start creates it)`), check.stdout);

  // A plugin's command takes --verbose too.
  const note = await cli(['sink-note', 'sink.a', 'list', '--verbose'], { cwd, env });
  assert.equal(note.code, 0, note.stderr);
  assert.equal(note.stderr.split('\n')[0], `peerpost: config ${a.config} ($PEERPOST_CONFIG), store ${a.data}`);

  // Without a terminal and without --verbose, no such line.
  const quiet = await cli(['status'], { cwd, env });
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, '');
  assert.deepEqual(readdirSync(cwd), []);
});
