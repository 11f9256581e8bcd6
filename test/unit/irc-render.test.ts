import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postLines, type RenderConfig } from '../../plugins/irc/render.js';
import type { Post } from '../../src/plugin.js';

const cfg: RenderConfig = {
  maxLines: 5,
  antiHighlight: false,
  nickColours: false,
  format: '<{nick}> ',
  eventFormat: '* ',
} as RenderConfig;
const article: Post = {
  id: 'a1@lists.example.org',
  bridge: 'commons',
  origin: { account: 'mail.lists', target: 'commons' },
  author: { name: 'alice', via: 'mail', address: 'alice@example.org' },
  subject: 'Meeting notes',
  body: Array.from({ length: 12 }, (_, i) => `line ${i + 1} of the notes`).join('\n'),
  kind: 'message',
  references: [],
  hops: 0,
  date: '2026-11-27T10:00:00.000Z',
  attachments: [],
};

test('an announcement links to the rest: moreUrl when configured, else the web permalink, else no link', () => {
  const to = { shape: 'announce' as const, announceLines: 3 };
  const web = postLines(cfg, article, to, 400, 'https://lists.example.org/p/a1%40lists.example.org');
  assert.match(web.at(-1)!, /more lines: https:\/\/lists\.example\.org\/p\/a1%40lists\.example\.org\)$/);
  const configured = postLines(
    { ...cfg, moreUrl: 'https://news.example.org/{id}' } as RenderConfig,
    article,
    to,
    400,
    'https://ignored.example/',
  );
  assert.match(configured.at(-1)!, /https:\/\/news\.example\.org\/a1%40lists\.example\.org/);
  assert.doesNotMatch(configured.join('\n'), /ignored/);
  const none = postLines(cfg, article, to, 400);
  assert.doesNotMatch(none.at(-1)!, /https?:/);
  assert.match(none.at(-1)!, /more lines\)$/);
});
