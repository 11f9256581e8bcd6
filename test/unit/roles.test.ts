/**
 * What `peerpost check` says an endpoint does: its direction, and what its plugin knows of it
 * (a served finger plan and a web page without a token for its bridge take nothing in).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointRole, roleWords } from '../../src/roles.js';
import type { AccountConfig, Direction, EndpointConfig } from '../../src/config/types.js';
import type { PluginDefinition } from '../../src/plugin.js';
import finger from '../../plugins/finger/index.js';
import web from '../../plugins/web/index.js';
import { ircPlugin } from '../helpers/fake-plugins.js';

function endpoint(key: string, direction: Direction = 'inout', bridge = 'commons'): EndpointConfig {
  const account = key.slice(0, key.indexOf('/'));
  return {
    key,
    account,
    protocol: account.slice(0, account.indexOf('.')),
    target: key.slice(key.indexOf('/') + 1),
    bridge,
    direction,
    prefix: '!post',
    announceLines: 4,
    options: {},
  };
}

function account(plugin: PluginDefinition, name: string, block: unknown): AccountConfig {
  const settings = plugin.account.parse(block) as Record<string, unknown>;
  return { name, protocol: plugin.protocol, instance: name.slice(name.indexOf('.') + 1), settings };
}

test('a served finger plan only receives; a followed plan only feeds', () => {
  const a = account(finger, 'finger.local', {});
  const plan = endpointRole(endpoint('finger.local/commons'), finger, a);
  assert.deepEqual(plan, {
    feeds: false,
    receives: true,
    why: 'a finger plan only shows posts: nothing comes in through it',
  });
  assert.equal(roleWords(plan), 'out only');
  const follow = endpointRole(endpoint('finger.local/follow:dk@example.net', 'in'), finger, a);
  assert.deepEqual(follow, { feeds: true, receives: false });
  assert.equal(roleWords(follow), 'in only ');
  // direction: in on a served plan: it does nothing at all, and says why.
  const idle = endpointRole(endpoint('finger.local/commons', 'in'), finger, a);
  assert.equal(roleWords(idle), 'nothing ');
  assert.match(idle.why!, /only shows posts/);
});

test('a web endpoint feeds the bridge only when a token may post to that bridge', () => {
  const token = (bridges: string[]) => ({ name: 'app', token: 'x'.repeat(24), bridges });
  const off = endpointRole(endpoint('web.local/commons'), web, account(web, 'web.local', {}));
  assert.deepEqual(off, {
    feeds: false,
    receives: true,
    why: 'posting from the web is off: no token in accounts.web.local.tokens',
  });
  const other = endpointRole(
    endpoint('web.local/commons'),
    web,
    account(web, 'web.local', { tokens: [token(['lounge'])] }),
  );
  assert.deepEqual(other, {
    feeds: false,
    receives: true,
    why: 'no token in accounts.web.local.tokens may post to bridge commons',
  });
  for (const bridges of [['commons'], ['*']]) {
    const on = endpointRole(
      endpoint('web.local/commons'),
      web,
      account(web, 'web.local', { tokens: [token(bridges)] }),
    );
    assert.deepEqual(on, { feeds: true, receives: true });
    assert.equal(roleWords(on), 'in + out');
  }
});

test('a plugin that says nothing is taken at its direction', () => {
  const a = account(ircPlugin, 'irc.x', { host: 'irc.example.org', nick: 'bot' });
  assert.equal(roleWords(endpointRole(endpoint('irc.x/#c'), ircPlugin, a)), 'in + out');
  assert.equal(roleWords(endpointRole(endpoint('irc.x/#c', 'in'), ircPlugin, a)), 'in only ');
  assert.equal(roleWords(endpointRole(endpoint('irc.x/#c', 'out'), ircPlugin, a)), 'out only');
  // direction: out never asks the plugin: nothing is taken in anyway.
  assert.deepEqual(endpointRole(endpoint('finger.local/commons', 'out'), finger, account(finger, 'finger.local', {})), {
    feeds: false,
    receives: true,
  });
});
