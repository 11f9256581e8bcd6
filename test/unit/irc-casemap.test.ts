import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CASE_FOLDS, caseFold } from '../../plugins/irc/casemap.js';

test('rfc1459 folds A-Z and []\\^ to a-z and {}|~; strict-rfc1459 leaves ^; ascii folds letters only', () => {
  assert.equal(CASE_FOLDS.rfc1459('#Team[A]\\^'), '#team{a}|~');
  assert.equal(CASE_FOLDS['strict-rfc1459']('#Team[A]\\^'), '#team{a}|^');
  assert.equal(CASE_FOLDS.ascii('#Team[A]\\^'), '#team[a]\\^');
  assert.equal(CASE_FOLDS.rfc1459('#Café-ÉTÉ'), '#café-ÉtÉ', 'only ASCII letters fold, as servers do');
});

test('the CASEMAPPING token picks the folding; none or an unknown one is rfc1459', () => {
  assert.equal(caseFold('ascii'), CASE_FOLDS.ascii);
  assert.equal(caseFold('strict-rfc1459'), CASE_FOLDS['strict-rfc1459']);
  assert.equal(caseFold(undefined), CASE_FOLDS.rfc1459);
  assert.equal(caseFold('rfc7613'), CASE_FOLDS.rfc1459);
  assert.equal(caseFold('toString'), CASE_FOLDS.rfc1459, 'not a property of every object');
});

test("the same function for the same mapping: the router keeps its index while the server's rule holds", () => {
  assert.equal(caseFold('rfc1459'), caseFold(undefined));
});
