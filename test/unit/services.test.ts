/**
 * The services between plugins: what each shipped plugin declares, the gaps a config leaves (a use no
 * account provides), how they are said, and the config error for a required one (with its line).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { formatConfigError, parseConfig } from '../../src/config/load.js';
import { lookupPlugin, type PluginLookup } from '../../src/loader.js';
import { declarationProblem, gapMessage, serviceGaps } from '../../src/services.js';
import { definePlugin, delivered, z, type PluginDefinition } from '../../src/plugin.js';
import mail from '../../plugins/mail/index.js';
import web from '../../plugins/web/index.js';
import irc from '../../plugins/irc/index.js';
import nntp from '../../plugins/nntp/index.js';

/** A plugin that cannot run without the web's links. */
const needy = definePlugin({
  protocol: 'needy',
  style: 'article',
  account: z.strictObject({}),
  uses: [{ service: 'web.links' }],
  start: () => ({ deliver: async () => delivered() }),
});
const lookup: PluginLookup = async (protocol, module) =>
  protocol === 'needy' ? needy : lookupPlugin(protocol, module);

const accounts = (...list: [string, PluginDefinition][]) => list.map(([name, def]) => ({ name, def }));

test('the shipped plugins declare what they provide and use, and every use has a provider among them', () => {
  assert.deepEqual(mail.provides, [
    'mail.unsubscribe',
    'mail.attachments',
    'mail.lists',
    'mail.moderation',
    'mail.preferences',
  ]);
  assert.deepEqual(web.provides, ['web.links']);
  for (const def of [mail, web, irc, nntp]) assert.equal(declarationProblem(def), undefined, def.protocol);
  const all = accounts(['mail.lists', mail], ['web.local', web], ['irc.libera', irc], ['nntp.local', nntp]);
  assert.deepEqual(serviceGaps(all), [], 'mail, web, irc and news together leave no gap');
});

test('a use without a provider is a gap; an optional one says what the account lacks and what would provide it', () => {
  const gaps = serviceGaps(accounts(['web.local', web]), [mail]);
  assert.deepEqual(
    gaps.map((g) => [g.account, g.service, g.optional, g.providers]),
    [
      ['web.local', 'mail.unsubscribe', true, ['mail']],
      ['web.local', 'mail.attachments', true, ['mail']],
      ['web.local', 'mail.lists', true, ['mail']],
      ['web.local', 'mail.moderation', true, ['mail']],
      ['web.local', 'mail.preferences', true, ['mail']],
    ],
  );
  assert.equal(
    gapMessage(gaps[0]!),
    `web.local uses 'mail.unsubscribe', which no account provides: one-click unsubscribe links (/unsubscribe/…) answer 503, "the mailing lists are not running" (add a mail account to have it)`,
  );
  const [m] = serviceGaps(accounts(['mail.lists', mail]), [web]);
  assert.equal(
    gapMessage(m!),
    `mail.lists uses 'web.links', which no account provides: list mail goes out without a link to the archive and without a one-click unsubscribe link (add a web account to have it)`,
  );
  const [n] = serviceGaps(accounts(['needy.one', needy]));
  assert.equal(
    gapMessage(n!),
    `needy.one uses 'web.links', which no account provides: add an account of a plugin that provides it, or remove needy.one (it cannot run without it)`,
  );
});

test('peerpost check refuses a config where a required service has no provider, at the account, naming the plugin that provides it', async () => {
  const text = ['accounts:', '  needy.one: {}', 'bridges: {}', ''].join('\n');
  const r = await parseConfig(text, 'p.yaml', { lookup, env: {}, cwd: tmpdir() });
  assert.equal(r.ok, false);
  assert.deepEqual((r as { errors: Parameters<typeof formatConfigError>[0][] }).errors.map(formatConfigError), [
    `p.yaml:2:3  accounts.needy.one: needy.one uses 'web.links', which no account provides: add a web account, or remove needy.one (it cannot run without it)`,
  ]);
  const ok = await parseConfig(
    ['accounts:', '  needy.one: {}', '  web.local: { listen: 127.0.0.1:0 }', 'bridges: {}', ''].join('\n'),
    'p.yaml',
    { lookup, env: {}, cwd: tmpdir() },
  );
  assert.equal(ok.ok, true, 'with a web account the config loads');
});

test('a plugin whose provides or uses are malformed is refused when it is loaded', () => {
  assert.match(
    declarationProblem({ provides: ['links'] as never }) ?? '',
    /provides "links", which is not a service name/,
  );
  assert.match(
    declarationProblem({ uses: ['web.links'] as never }) ?? '',
    /uses "web\.links", which is not \{ service/,
  );
  assert.match(
    declarationProblem({ uses: [{ service: 'web.links', optional: true, without: '' }] }) ?? '',
    /optional use of "web\.links" does not say what its accounts do without it/,
  );
});
