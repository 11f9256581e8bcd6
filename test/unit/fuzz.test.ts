/**
 * Hostile input, generated: each parser gets a bounded number of random and
 * half-valid inputs (fast-check). No crash, no hang; every refusal is an answer
 * of the parser's own kind (config errors with a position, a finger "bad"
 * query, an ingest verdict). Protocol parsers with sockets (SMTP, NNTP) are
 * fuzzed in their integration tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.js';
import { lookupPlugin } from '../../src/loader.js';
import { parseQuery } from '../../plugins/finger/query.js';
import {
  splitToBudget,
  ircLines,
  decodeLenient,
  stripFormatting,
  safeLine,
  byteLength,
} from '../../plugins/irc/text.js';
import { stripQuotesAndSignature } from '../../src/digest/shape.js';
import { fixture } from '../helpers/core-fixture.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const KEYS = [
  'node',
  'hostname',
  'data',
  'accounts',
  'bridges',
  'endpoints',
  'irc.libera',
  'nntp.local',
  'finger.local',
  'host',
  'port',
  'listen',
  'nick',
  'channels',
  'description',
  'direction',
  'shape',
  'digest',
  'quiet',
  'ignore',
  'nicks',
  'patterns',
  'delivery',
  'retry',
  'first',
  'max',
  '${HOME}',
  '${X:-y}',
  '$${z}',
];
const SCALARS = [
  '127.0.0.1:1119',
  'in',
  'out',
  'both',
  'stream',
  'digest',
  '10m',
  '-1',
  '0',
  '99999999999',
  'null',
  '~',
  'true',
  '"#commons"',
  "'x'",
  '[a, b]',
  '{a: 1}',
  '&a',
  '*a',
  '!!binary aGk=',
  '|',
  '>',
  '"\\u0000"',
  'irc.libera/#commons',
  '(?i)x',
  '((',
  '\t',
];

/** YAML-shaped text built from the config's own words: deep enough to reach the schema, broken often enough to reach the error paths. */
const yamlish = fc
  .array(
    fc.tuple(
      fc.nat(6),
      fc.constantFrom(...KEYS),
      fc.oneof(fc.constantFrom(...SCALARS), fc.constant(''), fc.string({ maxLength: 12 })),
      fc.boolean(),
    ),
    { maxLength: 30 },
  )
  .map((lines) =>
    lines.map(([indent, k, v, dash]) => `${'  '.repeat(indent)}${dash ? '- ' : ''}${k}: ${v}`).join('\n'),
  );

test('config: any text, YAML-shaped or not, gives a config or errors with a line and a column; never a throw', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(yamlish, fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 200 })),
      async (text) => {
        const r = await parseConfig(text, '/tmp/fuzz.yaml', { lookup: lookupPlugin });
        if (!r.ok) {
          assert.ok(r.errors.length > 0);
          for (const e of r.errors) {
            assert.equal(typeof e.message, 'string');
            assert.ok(e.message.length > 0);
          }
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('finger: any bytes on the query line get an answer kind, never a throw; long or binary queries are "bad"', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
      const q = parseQuery(Buffer.from(bytes));
      assert.ok(['list', 'user', 'forward', 'bad'].includes(q.kind));
      if (q.kind === 'user') assert.match(q.name, /^[\x21-\x7e]+$/, 'a user name is printable ASCII without spaces');
      if (bytes.length > 514) assert.equal(q.kind, 'bad');
    }),
    { numRuns: RUNS * 3 },
  );
});

test('irc: any text splits into pieces within the byte budget, none holds CR, LF or NUL, no text is lost', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 600 }),
      fc.integer({ min: 8, max: 450 }),
      fc.string({ maxLength: 30 }),
      (text, budget, prefix) => {
        const pieces = splitToBudget(text, budget);
        for (const p of pieces) {
          // One grapheme longer than the budget is the only way past it.
          if (byteLength(p) > budget)
            assert.equal([...new Intl.Segmenter().segment(p)].length, 1, `a piece over budget: ${JSON.stringify(p)}`);
        }
        assert.equal(
          pieces.join('').replace(/\s+/g, ''),
          text.replace(/\s+/g, ''),
          'every non-space character arrives, in order',
        );
        const lines = ircLines(text.split('\n'), prefix, budget + 20);
        for (const l of lines) assert.doesNotMatch(l, /[\r\n\0]/);
      },
    ),
    { numRuns: RUNS },
  );
});

test('irc: any bytes from a server decode without a throw; formatting and control characters never reach a line', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const text = decodeLenient(bytes);
      assert.equal(typeof text, 'string');
      assert.doesNotMatch(safeLine(stripFormatting(text)), /[\r\n\0]/);
    }),
    { numRuns: RUNS * 3 },
  );
});

test('shape: quote and signature stripping ends, on any body', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom('> quoted', '-- ', '--', 'On Mon, alice wrote:', '>> deep', '', '___'),
          fc.string({ maxLength: 80 }),
        ),
        { maxLength: 200 },
      ),
      (lines) => {
        const out = stripQuotesAndSignature(lines.join('\n'));
        assert.ok(out.length <= lines.join('\n').length);
      },
    ),
    { numRuns: RUNS },
  );
});

test('core: any incoming post gets a verdict — accepted ones are stored whole, the rest refused with a reason; never a throw', async (t) => {
  const f = fixture(
    { 'irc.a': 'chat', 'nntp.n': 'article' },
    { commons: { endpoints: ['irc.a/#commons', 'nntp.n/peerpost.commons'] } },
  );
  t.after(() => f.close());
  const anyId = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 300 }),
    fc.emailAddress(),
    fc.constantFrom('<a@b>', '<>', 'a b@c', '@x', 'x@'),
  );
  const incoming = fc.record(
    {
      target: fc.oneof(fc.constant('#commons'), fc.constant('#COMMONS'), fc.string({ maxLength: 20 })),
      author: fc.record({ name: fc.string({ maxLength: 40 }), via: fc.constant('irc') }),
      body: fc.string({ unit: 'binary', maxLength: 2000 }),
      id: anyId,
      subject: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
      kind: fc.option(fc.constantFrom('message', 'action', 'notice', 'digest', 'plan', 'event', 'bogus'), {
        nil: undefined,
      }),
      inReplyTo: anyId,
      references: fc.option(fc.array(fc.string({ maxLength: 60 }), { maxLength: 30 }), { nil: undefined }),
      hops: fc.option(fc.integer({ min: -5, max: 100 }), { nil: undefined }),
      date: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.date({ noInvalidDate: false })), { nil: undefined }),
    },
    { requiredKeys: ['target', 'author', 'body'] },
  );
  await fc.assert(
    fc.asyncProperty(incoming, async (inc) => {
      const v = await f.core.ingest('irc.a', inc as never);
      assert.ok(['accepted', 'duplicate', 'ignored', 'rejected', 'tempfail'].includes(v.status));
      if (v.status === 'rejected' || v.status === 'tempfail') assert.ok(v.reason.length > 0);
      if (v.status === 'accepted') {
        const p = f.store.getPost(v.id)!;
        assert.ok(p, 'an accepted post is in the store');
        assert.ok(!Number.isNaN(Date.parse(p.date)), 'with a valid date');
      }
    }),
    { numRuns: RUNS },
  );
});
