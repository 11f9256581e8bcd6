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
  assert.equal(caseFold('toString'), CASE_FOLDS.rfc1459, 'not a property of every object');
});

test("the same function for the same mapping: the router keeps its index while the server's rule holds", () => {
  assert.equal(caseFold('rfc1459'), caseFold(undefined));
});

test('UTF8MAPPING=rfc8265 (Ergo with precis): Unicode names fold by PRECIS — case, width, NFC — and ASCII as ascii', () => {
  const fold = caseFold('ascii', 'rfc8265');
  assert.equal(fold('#Café'), fold('#CAFÉ'), 'É folds to é');
  assert.equal(fold('#Cafe\u0301'), fold('#café'), 'a combining accent is one character with it (NFC)');
  assert.equal(fold('#ＡＢＣ'), '#abc', 'fullwidth letters are their plain forms');
  assert.equal(fold('#Straße'), fold('#STRASSE'), 'full case folding: ß is ss');
  assert.equal(fold('#Team[1]'), '#team[1]', '[ and { stay apart, as in ascii');
  assert.notEqual(fold('#Team[1]'), fold('#team{1}'));
  assert.equal(caseFold('rfc8265'), fold, 'older servers name it in CASEMAPPING');
  assert.equal(caseFold('rfc7613'), fold);
  assert.equal(
    caseFold('ascii', 'rfc8265'),
    caseFold('rfc1459', 'rfc8265'),
    'one function: the router keeps its index',
  );
  assert.equal(caseFold('ascii', undefined), CASE_FOLDS.ascii, 'no UTF8MAPPING: the CASEMAPPING alone');
});
