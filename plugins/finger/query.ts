/**
 * RFC 1288 queries: one line, "[/W] [user]" — and what peerpost does with the rest.
 *
 *   {Q1} ::= [{W}|{W}{S}{U}]{C}          answered: the list, or a user's (a bridge's) plan
 *   {Q2} ::= [{W}{S}][{U}]{H}{C}         forwarding ("user@host"): always denied
 */

export const MAX_QUERY_BYTES = 512;

export type Query =
  | { kind: 'list'; verbose: boolean }
  | { kind: 'user'; verbose: boolean; name: string }
  | { kind: 'forward' }
  | { kind: 'bad'; why: string };

/** Parse one query line (without its CRLF, or with it: it is stripped). */
export function parseQuery(raw: Buffer | string): Query {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw;
  let line = buf.toString('latin1');
  line = line.replace(/\r?\n$/, '').replace(/\r$/, '');
  if (line.length > MAX_QUERY_BYTES) return { kind: 'bad', why: 'query too long' };
  // Only printable ASCII, space and tab in a query.
  if (/[^\x20-\x7e\t]/.test(line)) return { kind: 'bad', why: 'bad characters in query' };
  let rest = line.trim();
  let verbose = false;
  // "/W" (any case) as its own token, as the RFC writes it.
  const w = /^\/[wW](?:[ \t]+|$)/.exec(rest);
  if (w) {
    verbose = true;
    rest = rest.slice(w[0].length).trim();
  }
  if (rest.includes('@')) return { kind: 'forward' };
  if (rest === '') return { kind: 'list', verbose };
  if (/[ \t]/.test(rest)) return { kind: 'bad', why: 'one name per query' };
  return { kind: 'user', verbose, name: rest };
}
