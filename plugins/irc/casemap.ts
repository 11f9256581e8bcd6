/**
 * Which spellings of a channel name one channel: the server's CASEMAPPING (ISUPPORT), as irc-framework's
 * caseLower folds it. rfc1459 (the default when a server says nothing): A–Z and []\^ fold to a–z and {}|~;
 * strict-rfc1459: the same but ^ and ~ stay apart; ascii: A–Z only. A server that folds Unicode names too says so
 * with `UTF8MAPPING=rfc8265` (Ergo's default `precis` casemapping: `CASEMAPPING=ascii UTF8MAPPING=rfc8265`, so
 * `#Café` and `#CAFÉ` are one channel there) or, in older servers, `CASEMAPPING=rfc8265`/`rfc7613`: PRECIS
 * (RFC 8265, UsernameCaseMapped) folds widths, case (Unicode case folding) and normalises to NFC.
 * Pure: tested in test/unit/irc-casemap.test.ts.
 */
import type { TargetKey } from '../../src/plugin.js';

export type CaseMapping = 'rfc1459' | 'strict-rfc1459' | 'ascii';

/** A folding function that lowers A (65) up to `upper` by 32, and leaves every other character alone. */
function folding(upper: number): TargetKey {
  return (s) => {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      out += c >= 65 && c <= upper ? String.fromCharCode(c + 32) : s[i];
    }
    return out;
  };
}

/** One function per mapping, made once: the router re-indexes an account's endpoints only when its rule changes. */
export const CASE_FOLDS: Readonly<Record<CaseMapping, TargetKey>> = {
  rfc1459: folding(94), // '^'
  'strict-rfc1459': folding(93), // ']'
  ascii: folding(90), // 'Z'
};

/** Fullwidth and halfwidth forms (U+FF00–U+FFEF): PRECIS maps them to their plain forms (NFKC does the same). */
const WIDE = /[\uFF00-\uFFEF]+/g;

/**
 * PRECIS's case-mapped comparison (RFC 8265 §3.4) of what follows the channel's leading prefix characters: width
 * mapping, then Unicode case folding (upper then lower: ß → ss, ς → σ, as full case folding does), then NFC.
 */
export const RFC8265_FOLD: TargetKey = (s) => {
  const wide = s.replace(WIDE, (w) => w.normalize('NFKC'));
  return wide.toUpperCase().toLowerCase().normalize('NFC');
};

/** CASEMAPPING tokens that name the PRECIS folding itself (older Oragono/Ergo). */
const PRECIS_TOKENS = new Set(['rfc8265', 'rfc7613']);

/**
 * The folding a server announces: its CASEMAPPING token, unless UTF8MAPPING says non-ASCII names fold by PRECIS
 * (RFC 8265), which folds ASCII letters as ascii does. rfc1459 for none or one this plugin does not know
 * (irc-framework does the same).
 */
export function caseFold(casemapping: unknown, utf8mapping?: unknown): TargetKey {
  if (utf8mapping === 'rfc8265' || (typeof casemapping === 'string' && PRECIS_TOKENS.has(casemapping)))
    return RFC8265_FOLD;
  return typeof casemapping === 'string' && Object.hasOwn(CASE_FOLDS, casemapping)
    ? CASE_FOLDS[casemapping as CaseMapping]
    : CASE_FOLDS.rfc1459;
}
