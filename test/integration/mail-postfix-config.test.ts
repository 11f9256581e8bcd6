/**
 * The README's "Behind a real MTA (Postfix)" snippets are real configuration:
 * Postfix's own postconf reads the main.cf snippet (in a scratch config
 * directory, with Debian's master.cf) without a warning, postmap builds the two
 * maps and answers the look-ups a list needs, and the peerpost account block
 * passes the mail plugin's schema. Postfix is never started and /etc/postfix is
 * never touched.
 *
 * Postfix is installed when missing and we are root; otherwise the test fails
 * with the command that installs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { account } from '../../plugins/mail/schema.js';
import { ensureSmtpSink } from './mail-send-helpers.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** The fenced blocks of the README section that starts with `marker` (up to the next level-2 heading). */
function snippets(marker: string): { lang: string; text: string }[] {
  const all = readFileSync(README, 'utf8');
  const at = all.indexOf(marker);
  assert.ok(at >= 0, `README.md has "${marker}"`);
  const rest = all.slice(at);
  const end = rest.search(/\n## /);
  const section = end > 0 ? rest.slice(0, end) : rest;
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

test('README: the Postfix snippets pass postconf and postmap, and the peerpost block passes the schema', (t) => {
  ensureSmtpSink(); // the postfix package (postconf, postmap), not started
  const blocks = snippets('### Behind a real MTA (Postfix)');
  const [main, transport, recipients] = blocks.filter((b) => b.lang === '');
  assert.ok(main && transport && recipients, `three Postfix blocks, found ${blocks.length} blocks`);
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-postfix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  writeFileSync(join(dir, 'main.cf'), main.text.replaceAll('/etc/postfix/', `${dir}/`));
  const master = ['/usr/share/postfix/master.cf.dist', '/etc/postfix/master.cf'].find(existsSync);
  assert.ok(master, "Debian's master.cf");
  copyFileSync(master, join(dir, 'master.cf'));
  writeFileSync(join(dir, 'transport'), transport.text);
  writeFileSync(join(dir, 'list_recipients'), recipients.text);

  const pc = spawnSync('/usr/sbin/postconf', ['-c', dir, '-n'], { encoding: 'utf8' });
  assert.equal(pc.status, 0, pc.stderr);
  assert.equal(pc.stderr.trim(), '', `postconf warns about the main.cf snippet:\n${pc.stderr}`);
  const set = new Map(
    pc.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' = ') as [string, string]),
  );
  assert.equal(set.get('relay_domains'), 'lists.example.org');
  assert.equal(set.get('recipient_delimiter'), '+');
  assert.equal(set.get('transport_maps'), `hash:${dir}/transport`);
  assert.notEqual(
    set.get('myhostname'),
    'lists.example.org',
    'Postfix would think peerpost (greeting as the list domain) is itself',
  );

  for (const map of ['transport', 'list_recipients'])
    execFileSync('/usr/sbin/postmap', ['-c', dir, `hash:${join(dir, map)}`]);
  const q = (key: string, map: string) =>
    spawnSync('/usr/sbin/postmap', ['-c', dir, '-q', key, `hash:${join(dir, map)}`], { encoding: 'utf8' });
  assert.equal(q('lists.example.org', 'transport').stdout.trim(), 'smtp:[127.0.0.1]:2525');
  for (const a of [
    'commons',
    'commons-join',
    'commons-leave',
    'commons-request',
    'commons-owner',
    'commons-bounces',
    'commons-confirm',
  ])
    assert.equal(q(`${a}@lists.example.org`, 'list_recipients').stdout.trim(), 'OK', a);
  assert.equal(
    q('postmaster@lists.example.org', 'list_recipients').status,
    1,
    'any other address is not in the map (550 at RCPT)',
  );

  const yaml = blocks.find((b) => b.lang === 'yaml');
  assert.ok(yaml, 'the peerpost block');
  const block = (parse(yaml.text) as { accounts: Record<string, unknown> }).accounts['mail.lists'];
  const parsed = account.safeParse(block);
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  assert.deepEqual(parsed.data.limits.exempt, ['127.0.0.1', '::1']);
  assert.equal(parsed.data.maxSize, Number(set.get('message_size_limit')), "maxSize is Postfix's message_size_limit");
  assert.deepEqual([parsed.data.listen.host, parsed.data.listen.port], ['127.0.0.1', 2525]);
});
