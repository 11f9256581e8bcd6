/**
 * Which spellings of a channel name one channel: the server's CASEMAPPING (ISUPPORT), as irc-framework's
 * caseLower folds it. rfc1459 (the default when a server says nothing): A–Z and []\^ fold to a–z and {}|~;
 * strict-rfc1459: the same but ^ and ~ stay apart; ascii: A–Z only. Pure: tested in test/unit/irc-casemap.test.ts.
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

/** The folding of a CASEMAPPING token; rfc1459 for none or one this plugin does not know (irc-framework does the same). */
export function caseFold(casemapping: unknown): TargetKey {
  return typeof casemapping === 'string' && Object.hasOwn(CASE_FOLDS, casemapping)
    ? CASE_FOLDS[casemapping as CaseMapping]
    : CASE_FOLDS.rfc1459;
}
