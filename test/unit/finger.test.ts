/**
 * The finger plugin without sockets: query parsing, rendering (plain and
 * Thimbl), escaping of control characters, the rate limiter, follow targets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery } from '../../plugins/finger/query.js';
import {
  renderList,
  renderPlan,
  renderThimbl,
  oneLineAnswer,
  type PlanPost,
  type PlanView,
} from '../../plugins/finger/render.js';
import { clean, toAscii, truncate } from '../../plugins/finger/text.js';
import { RateLimiter } from '../../plugins/finger/server.js';
import { nextDelay, parseFollow, targetProblem } from '../../plugins/finger/follow.js';
import { endpointProblem } from '../../plugins/finger/index.js';
import { parseThimbl } from '../../plugins/finger/remote.js';

test('queries: names, /W, the list, forwarding, and what is refused', () => {
  assert.deepEqual(parseQuery('commons\r\n'), { kind: 'user', verbose: false, name: 'commons' });
  assert.deepEqual(parseQuery('/W commons\r\n'), { kind: 'user', verbose: true, name: 'commons' });
  assert.deepEqual(parseQuery('/w   commons \n'), { kind: 'user', verbose: true, name: 'commons' });
  assert.deepEqual(parseQuery('\r\n'), { kind: 'list', verbose: false });
  assert.deepEqual(parseQuery('/W\r\n'), { kind: 'list', verbose: true });
  assert.deepEqual(parseQuery('a@b@c\r\n'), { kind: 'forward' });
  assert.deepEqual(parseQuery('commons@elsewhere\r\n'), { kind: 'forward' });
  assert.deepEqual(parseQuery('/W @elsewhere\r\n'), { kind: 'forward' });
  assert.equal(parseQuery('a b\r\n').kind, 'bad');
  assert.equal(parseQuery(Buffer.from([0x63, 0x00, 0xff, 0x1b, 0x0d, 0x0a])).kind, 'bad');
  assert.equal(parseQuery('x'.repeat(512) + '\r\n').kind, 'user');
  assert.deepEqual(parseQuery('x'.repeat(513) + '\r\n'), { kind: 'bad', why: 'query too long' });
});

const post = (over: Partial<PlanPost> = {}): PlanPost => ({
  date: '2026-11-27T14:02:09.000Z',
  author: { name: 'alice', via: 'irc' },
  body: 'hello world',
  kind: 'message',
  ...over,
});
const view = (over: Partial<PlanView> = {}): PlanView => ({
  name: 'commons',
  bridge: 'commons',
  hostname: 'lists.example.org',
  description: 'The commons discussion',
  join: ['IRC channel    irc.libera/#commons'],
  posts: [post()],
  total: 1,
  verbose: false,
  charset: 'ascii',
  ...over,
});

const assertClean = (out: string) => {
  assert.ok(out.endsWith('\r\n'), 'the answer ends in CRLF');
  assert.doesNotMatch(out, /[^\r]\n/, 'every line ends in CRLF');
  assert.doesNotMatch(out.replace(/\r\n/g, ''), /[\x00-\x1f\x7f-\x9f]/, 'no control characters');
};

test('a plan: header, where to join, newest posts first with UTC time, author and first line or subject', () => {
  const out = renderPlan(
    view({
      posts: [
        post({
          date: '2026-11-27T14:31:00Z',
          author: { name: 'bob', via: 'mail' },
          subject: 'Minutes',
          body: '> quoted\nthe body',
        }),
        post({ body: '\n\nfirst line\nsecond line' }),
      ],
      total: 37,
    }),
  );
  assertClean(out);
  const lines = out.split('\r\n');
  assert.match(lines[0]!, /^Login: commons\s+Name: The commons discussion$/);
  assert.ok(lines.includes('Join:'));
  assert.ok(lines.includes('  IRC channel    irc.libera/#commons'));
  const plan = lines.indexOf('Plan:');
  assert.ok(plan > 0);
  assert.equal(lines[plan + 1], 'Newest 2 of 37 posts, newest first (times in UTC):');
  assert.match(lines[plan + 2]!, /^2026-11-27 14:31 {2}bob {11}Minutes$/);
  assert.match(lines[plan + 3]!, /^2026-11-27 14:02 {2}alice {9}first line$/);
  for (const l of lines) assert.ok(l.length <= 79, `fits 79 columns: ${l}`);
});

test('a long first line is cut in the short form and whole in /W, with seconds, address and kind', () => {
  const long = 'word '.repeat(40).trim();
  const short = renderPlan(view({ posts: [post({ body: long })] }));
  assert.match(short, /word\.\.\.\r\n/);
  const verbose = renderPlan(
    view({
      verbose: true,
      posts: [
        post({
          body: `${long}\nmore\nand more`,
          author: { name: 'carol', address: 'carol@example.org', via: 'mail' },
          kind: 'plan',
        }),
      ],
    }),
  );
  assertClean(verbose);
  assert.match(verbose, /2026-11-27 14:02:09 {2}carol <carol@example\.org> via mail \(plan\)\r\n/);
  assert.ok(verbose.includes(`    ${long}\r\n`));
  assert.match(verbose, /\(2 more lines\)/);
});

test('no control characters from posts reach the client: ESC sequences, mIRC codes, C1, bidi overrides', () => {
  const nasty =
    'pwn\x1b[2J\x1b]0;title\x07ed \x1b[31mred\x1b[0m \x03' +
    '4,1colour\x0f \x02bold\x02 \x9b31m \u202egnp.exe\u202c tab\there\x07\x00 bell';
  const out = renderPlan(
    view({ posts: [post({ body: nasty, author: { name: 'ev\x1b[5mil', via: 'irc' } })], verbose: true }),
  );
  assertClean(out);
  assert.ok(!out.includes('\x1b'));
  assert.match(out, /pwned red colour bold gnp\.exe tab here bell/);
  assert.match(out, /evil via irc/);
  assert.equal(clean('line one\r\nline two\rthree'), 'line one\nline two\nthree');
});

test('charset: ascii by default (accents dropped, the rest "?"), utf-8 when configured', () => {
  assert.equal(toAscii('Jürgen Bjørn “quoted” – naïve 日本'), 'Jurgen Bjorn "quoted" - naive ??');
  const p = [post({ author: { name: 'Jürgen', via: 'irc' }, body: 'grüße 🙂' })];
  assert.match(renderPlan(view({ posts: p })), /Jurgen {8}grusse \?/);
  const utf8 = renderPlan(view({ posts: p, charset: 'utf-8' }));
  assert.match(utf8, /Jürgen {8}grüße 🙂/);
  assertClean(utf8);
});

test('an empty bridge says so', () => {
  const out = renderPlan(view({ posts: [], total: 0, join: [] }));
  assert.match(out, /Plan:\r\nNo posts yet\.\r\n$/);
});

test('a Thimbl plan: after "Plan:" one JSON object with name, bio, properties, following and messages (UTC time, oldest first)', () => {
  const out = renderThimbl({
    ...view({
      posts: [
        post({ date: '2026-11-27T14:31:05Z', body: 'newer\nsecond line', subject: 'S' }),
        post({ author: { name: 'Jürgen\x1b[1m', via: 'irc' } }),
      ],
    }),
    address: 'commons@lists.example.org',
    bio: 'We talk.',
    properties: { website: 'https://example.org/' },
    following: [{ nick: 'dk', address: 'dk@telekommunisten.net' }],
  });
  assertClean(out);
  assert.doesNotMatch(out, /[^\x20-\x7e\r\n]/, 'printable ASCII with charset ascii (JSON escapes)');
  const lines = out.split('\r\n');
  const at = lines.indexOf('Plan:');
  assert.ok(at > 0);
  assert.equal(lines[at + 2], '');
  const plan = JSON.parse(lines[at + 1]!);
  assert.equal(plan.name, 'The commons discussion');
  assert.equal(plan.address, 'commons@lists.example.org');
  assert.equal(plan.bio, 'We talk.');
  assert.deepEqual(plan.properties, { website: 'https://example.org/' });
  assert.deepEqual(plan.following, [{ nick: 'dk', address: 'dk@telekommunisten.net' }]);
  assert.deepEqual(
    plan.messages.map((m: { time: string }) => m.time),
    ['20261127140209', '20261127143105'],
  );
  assert.equal(plan.messages[0].text, 'Jürgen: hello world');
  assert.equal(plan.messages[1].text, 'alice: S - newer second line');
  // A message that came in from a followed Thimbl plan is served as it came: its address, time and text.
  const relayed = renderThimbl({
    ...view({
      posts: [
        post({
          author: { name: 'Dmytri Kleiner', address: 'dk@telekommunisten.org', via: 'finger' },
          body: 'Hello from the thimbl workshop',
          date: '2011-02-02T15:23:39Z',
        }),
      ],
    }),
    address: 'commons@lists.example.org',
    bio: '',
    properties: {},
    following: [],
  });
  assert.deepEqual(JSON.parse(relayed.split('\r\n')[2]!).messages, [
    { time: '20110202152339', address: 'dk@telekommunisten.org', text: 'Hello from the thimbl workshop' },
  ]);
  // What we serve, our own parser (and so a Thimbl client) reads back.
  const back = parseThimbl(lines.slice(at + 1).join('\n'))!;
  assert.equal(back.messages.length, 2);
});

test('the list of bridges, and one-line answers', () => {
  const out = renderList(
    'lists.example.org',
    [
      { name: 'commons', description: 'The commons', posts: 3, last: '2026-11-27T14:02:00Z' },
      { name: 'dev', description: 'Dev talk', posts: 0 },
    ],
    'ascii',
    true,
  );
  assertClean(out);
  assert.match(out, /commons {2}The commons {2}\(3 posts, last 2026-11-27 14:02 UTC\)/);
  assert.equal(renderList('h', [], 'ascii', false), 'No public plans on h.\r\n');
  assert.equal(oneLineAnswer('Finger forwarding service denied.'), 'Finger forwarding service denied.\r\n');
  assert.equal(truncate('abcdef', 5), 'ab...');
});

test('the rate limiter allows N per window per address, and forgets', () => {
  let now = 0;
  const rl = new RateLimiter(3, 1000, () => now);
  assert.deepEqual(
    [rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a'), rl.take('b')],
    [true, true, true, false, true],
  );
  now = 999;
  assert.equal(rl.take('a'), false);
  now = 1001;
  assert.equal(rl.take('a'), true);
  assert.equal(new RateLimiter(0, 1000).take('x'), true, '0 turns it off');
});

test('follow targets: user@host, :port, IPv6; served names; wrong ones explained', () => {
  assert.deepEqual(parseFollow('dk@telekommunisten.net'), {
    user: 'dk',
    host: 'telekommunisten.net',
    port: 79,
    address: 'dk@telekommunisten.net',
  });
  assert.deepEqual(parseFollow('dk@127.0.0.1:7980'), {
    user: 'dk',
    host: '127.0.0.1',
    port: 7980,
    address: 'dk@127.0.0.1:7980',
  });
  assert.deepEqual(parseFollow('dk@[::1]:79'), { user: 'dk', host: '::1', port: 79, address: 'dk@[::1]:79' });
  assert.equal(targetProblem('commons'), undefined);
  assert.equal(targetProblem('follow:dk@example.net'), undefined);
  assert.match(targetProblem('follow:example.net')!, /not user@host/);
  assert.match(targetProblem('follow:dk@exa mple')!, /not a host/);
  assert.match(targetProblem('follow:dk@host:99999')!, /out of range/);
  assert.match(targetProblem('#commons')!, /not a finger name/);
});

test('follow endpoints must be direction: in, and keys must fit the kind of endpoint', () => {
  const ep = (target: string, direction: 'in' | 'out' | 'inout', options: Record<string, unknown> = {}) => ({
    key: `finger.local/${target}`,
    target,
    bridge: 'b',
    direction,
    options,
    description: '',
  });
  assert.match(
    endpointProblem(ep('follow:dk@h', 'inout'))!,
    /can only feed the bridge: write it as \{ endpoint: finger\.local\/follow:dk@h, direction: in \}/,
  );
  assert.equal(endpointProblem(ep('follow:dk@h', 'in', { poll: 1000 })), undefined);
  assert.match(endpointProblem(ep('follow:dk@h', 'in', { format: 'thimbl' }))!, /format is a key of a served plan/);
  assert.match(endpointProblem(ep('commons', 'inout', { poll: 1000 }))!, /poll is a key of a follow endpoint/);
  assert.equal(endpointProblem(ep('commons', 'out', { format: 'thimbl' })), undefined);
});

test('polling backs off on failure, up to the cap, never below the interval', () => {
  const top = () => 1;
  const bottom = () => 0;
  assert.equal(
    nextDelay(60_000, 0, 3_600_000, () => 0.5),
    60_000,
  );
  assert.equal(nextDelay(60_000, 0, 3_600_000, bottom), 54_000, 'a steady poll is spread by ±10 %');
  assert.equal(nextDelay(60_000, 0, 3_600_000, top), 66_000);
  assert.equal(nextDelay(60_000, 1, 3_600_000, top), 120_000, 'the interval doubled per failure');
  assert.equal(nextDelay(60_000, 3, 3_600_000, top), 480_000);
  assert.equal(nextDelay(60_000, 30, 3_600_000, top), 3_600_000, 'up to maxBackoff');
  assert.equal(nextDelay(60_000, 1, 3_600_000, bottom), 60_000, 'jitter down to half, never below the interval');
  assert.equal(nextDelay(60_000, 3, 3_600_000, bottom), 240_000);
  assert.equal(nextDelay(60_000, 5, 30_000, bottom), 60_000, 'a cap below the interval: the interval');
});
