/**
 * Hostile text for the archive's search (fast-check, bounded runs; FUZZ_RUNS raises them): any query parses or is
 * refused with a CodedError 'bad-query', never runs FTS5 syntax of its own; the marks of a results page never lose,
 * add or reorder text (unmarked, a marked subject is the subject; a snippet is a piece of the body, ellipses aside),
 * and every mark opened is closed; a search over stored posts of any text never throws but 'bad-query'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseQuery } from '../../src/archive/query.js';
import { markAll, snippet } from '../../src/archive/marks.js';
import { searchArchive } from '../../src/archive/search.js';
import { CodedError } from '../../src/errors.js';
import { Store } from '../../src/store.js';
import type { Post } from '../../src/post.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const O = '\u0002[';
const C = '\u0002]';

/** Text with words, punctuation, quotes, FTS5 operators, diacritics, combining marks, emoji and addresses. */
const text = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'otter',
        'Otter',
        'ÉCOLE',
        'école',
        'e\u0301cole',
        'NEAR(',
        'AND',
        'OR',
        'NOT',
        '*',
        '"',
        '-',
        ':',
      ),
      fc.constantFrom('author:', 'subject:', 'bridge:x', 'before:2026-01-01', 'thread:<a@b>', 'sort:date', '😀', '…'),
      fc.constantFrom('alice@example.org', 'x@…', '\u0000', '\n', '  ', '^', '(', ')', '{body}:'),
      fc.string({ maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 6 }),
    ),
    { maxLength: 24 },
  )
  .map((parts) => parts.join(' '));

const unmark = (s: string) => s.split(O).join('').split(C).join('');
const balanced = (s: string) => {
  let open = false;
  for (let i = 0; i < s.length; i++) {
    if (s.startsWith(O, i)) {
      if (open) return false;
      open = true;
    } else if (s.startsWith(C, i)) {
      if (!open) return false;
      open = false;
    }
  }
  return !open;
};

test('any query parses or is refused for a reason; marks keep the text whole and balanced', () => {
  fc.assert(
    fc.property(text, text, (q, body) => {
      let parsed;
      try {
        parsed = parseQuery(q);
      } catch (e) {
        assert.ok(e instanceof CodedError && e.code === 'bad-query', String(e));
        return;
      }
      const subject = markAll(body, parsed.highlight, O, C);
      assert.equal(unmark(subject), body);
      assert.ok(balanced(subject));
      const snip = snippet(body, parsed.highlight, O, C);
      assert.ok(balanced(snip));
      const plain = unmark(snip).replace(/^…/, '').replace(/…$/, '');
      assert.ok(body.includes(plain), `the snippet ${JSON.stringify(plain)} is a piece of the body`);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('a search over stored posts of any text answers or says bad-query, for the full and the public index', () => {
  const s = Store.open(':memory:');
  const bodies = fc.sample(text, 60);
  bodies.forEach((body, i) => {
    const p: Post = {
      id: `p${i}@fuzz`,
      bridge: 'commons',
      origin: { account: 'mail.a', target: 'commons' },
      author: { name: `Alice ${i}`, address: `alice${i}@example.org`, via: 'mail' },
      subject: bodies[(i + 1) % bodies.length]!.slice(0, 40),
      body,
      kind: 'message',
      references: [],
      hops: 0,
      date: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
      attachments: [],
    };
    s.insertPost(p, Date.now());
  });
  try {
    fc.assert(
      fc.property(text, fc.constantFrom<'full' | 'public'>('full', 'public'), (q, index) => {
        try {
          const r = searchArchive(s.db, q, { index, limit: 5, addresses: index === 'public' ? 'hide' : 'show' });
          for (const h of r.hits) {
            // A marker is \u0002, a 16-hex nonce, [ or ], \u0003 (search.ts); a post's own text may hold a \u0002.
            assert.doesNotMatch(h.snippetHtml + h.subjectHtml, /\u0002[0-9a-f]{16}[[\]]\u0003/, 'no marker left');
            if (index === 'public') assert.doesNotMatch(h.snippet, /alice\d*@example\.org/, 'no address shown');
          }
        } catch (e) {
          assert.ok(e instanceof CodedError && e.code === 'bad-query', String(e));
        }
      }),
      { numRuns: RUNS },
    );
  } finally {
    s.close();
  }
});
