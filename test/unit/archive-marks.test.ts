/** The marks of a results page (src/archive/marks.ts): words found as FTS5's unicode61 tokenizer finds them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markAll, snippet, termWords, type MarkTerm } from '../../src/archive/marks.js';

const O = '[';
const C = ']';
const word = (w: string, o: Partial<MarkTerm> = {}): MarkTerm => ({ words: termWords(w), prefix: false, ...o });

test('every match in a subject is marked: case and diacritics folded, whole words only, phrases, prefixes', () => {
  assert.equal(markAll('Café culture at the CAFE', [word('cafe')], O, C), '[Café] culture at the [CAFE]');
  assert.equal(markAll('cafeteria', [word('cafe')], O, C), 'cafeteria', 'not inside a longer word');
  assert.equal(markAll('meeting meets meet', [word('meet', { prefix: true })], O, C), '[meeting] [meets] [meet]');
  assert.equal(markAll('use after free, after use', [word('use after free')], O, C), '[use after free], after use');
  assert.equal(
    markAll('bob wrote', [word('bob', { column: 'author' })], O, C),
    'bob wrote',
    'author: marks no subject',
  );
  assert.equal(markAll('', [word('x')], O, C), '');
});

test('a snippet is a window of 32 words around the best matches, cut with an ellipsis', () => {
  const filler = (n: number, w = 'lorem') => Array.from({ length: n }, () => w).join(' ');
  const body = `${filler(100)} the otter swims. ${filler(100)}`;
  const s = snippet(body, [word('otter')], O, C);
  assert.match(s, /^….*\[otter\].*…$/);
  assert.equal(s.replace(/…/g, '').trim().split(/\s+/).length, 32);
  // Two different terms beat one repeated: the window holding both is chosen.
  const two = `${filler(50)} beaver ${filler(50)} beaver ${filler(50)} beaver otter ${filler(50)}`;
  assert.match(snippet(two, [word('beaver'), word('otter')], O, C), /\[beaver\] \[otter\]/);
  // Short text: whole, marked; no match: the first words.
  assert.equal(snippet('An otter!', [word('otter')], O, C), 'An [otter]!');
  assert.match(snippet(filler(40, 'x'), [word('zzz')], O, C), /^x( x){31}…$/);
});

test('a long body (a mailed patch) is looked at around the first match, not tokenized whole', () => {
  const patch = `${'+ int x = 0;\n'.repeat(5000)}the watchdog fires here\n${'- y();\n'.repeat(5000)}`;
  const s = snippet(patch, [word('watchdog')], O, C);
  assert.match(s, /\[watchdog\] fires here/);
  assert.match(s, /^…/);
  assert.match(s, /…$/);
});

test('a long body is searched case-blind for the first match, ASCII or not, and a word it lacks gives its start', () => {
  const filler = '+ int x = 0;\n'.repeat(5000);
  // ASCII: found however it is written.
  assert.match(snippet(`${filler}the WatchDog fires here\n${filler}`, [word('watchdog')], O, C), /\[WatchDog\] fires/);
  // Not ASCII: lower-cased as before (the word found after a "É").
  assert.match(
    snippet(`${filler}École: the WATCHDOG fires\n${filler}`, [word('watchdog')], O, C),
    /\[WATCHDOG\] fires/,
  );
  // A word only in the subject: the body's start.
  assert.match(snippet(`first words here\n${filler}`, [word('heron')], O, C), /^first words here/);
});
