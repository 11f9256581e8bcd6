/**
 * The README names a list's addresses twice: in the walk-through (what peerpost takes) and in the Postfix map
 * (what Postfix lets through). Both must be the same, complete list: every address the mail plugin accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classify, listAddresses } from '../../plugins/mail/lists.js';

const README = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
const DOMAIN = 'lists.example.org';

/** "commons-confirm+TOKEN@" → "commons-confirm@lists.example.org": the address without its extension. */
const base = (a: string) => `${a.replace(/@.*$/, '').replace(/\[?\+.*$/, '')}@${DOMAIN}`;

test("the walk-through and the Postfix map name the same list addresses: all the mail plugin's", () => {
  const a = listAddresses('commons', DOMAIN);
  const accepted = new Set([a.post, a.join, a.leave, a.request, a.owner, a.bounces, a.confirm('abcdef12')].map(base));

  const walk = /peerpost takes only the list's\s+(\w+) addresses \(([^)]*)\)/.exec(README);
  assert.ok(walk, 'the walk-through says which addresses peerpost takes');
  const named = [...walk[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  assert.deepEqual(new Set(named.map(base)), accepted);
  assert.equal(walk[1], ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'][accepted.size - 1]);
  // As written (a token, a VERP address), each one is taken by the plugin.
  for (const n of named) {
    const sample = n.replace('+TOKEN', '+abcdef12').replace('[+…]', '+alice=example.org').replace(/@$/, `@${DOMAIN}`);
    assert.ok(classify(sample, ['commons'], DOMAIN), `${sample} is taken`);
  }

  const map = /`\/etc\/postfix\/list_recipients`, the (\w+) addresses[\s\S]*?```\n([\s\S]*?)```/.exec(README);
  assert.ok(map, 'the Postfix section has the list_recipients map');
  const keys = map[2]!
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/)[0]!);
  assert.deepEqual(new Set(keys), accepted);
  assert.equal(map[1], walk[1]);
});
