/**
 * Posting from the web (the API and the stream): what a request may carry, the
 * post itself (the token's and the endpoint's checks, then the ingest), and
 * how an ingest verdict is answered.
 */
import { bareId, idProblem, type ErrorCode, type IngestVerdict } from '../../src/plugin.js';
import type { AppDeps, Served } from './site.js';
import { mayPost, type Grant } from './tokens.js';

export interface PostInput {
  body: string;
  subject?: string;
  /** Author name; the token's name when left out. */
  from?: string;
  inReplyTo?: string;
  references?: string[];
  /** A Message-ID chosen by the client, so that a retry after a lost answer is not posted twice. */
  id?: string;
}

const KEYS = new Set(['body', 'subject', 'from', 'inReplyTo', 'references', 'id']);
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Check what a client sent (parsed JSON, without the token); a message for people when it is wrong. */
export function parsePostInput(v: unknown, extraKeys: readonly string[] = []): PostInput | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected a JSON object like {"body": "hello"}';
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.has(k) && !extraKeys.includes(k));
  if (unknown.length)
    return `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...KEYS].join(', ')})`;
  if (typeof o.body !== 'string' || o.body.trim() === '') return '"body" must be a non-empty string';
  const out: PostInput = { body: o.body.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n') };
  if (o.subject !== undefined) {
    if (typeof o.subject !== 'string' || o.subject.length > 998 || CONTROL.test(o.subject))
      return '"subject" must be one line of text (at most 998 characters)';
    if (o.subject.trim()) out.subject = o.subject.trim();
  }
  if (o.from !== undefined) {
    if (typeof o.from !== 'string' || !o.from.trim() || o.from.length > 64 || CONTROL.test(o.from))
      return '"from" must be a name of 1-64 characters on one line';
    out.from = o.from.trim();
  }
  const idOf = (key: string, x: unknown): string => {
    if (typeof x !== 'string') throw new Error(`"${key}" must be a Message-ID string`);
    const id = bareId(x);
    const problem = idProblem(id);
    if (problem) throw new Error(`"${key}": ${problem}`);
    return id;
  };
  try {
    if (o.inReplyTo !== undefined) out.inReplyTo = idOf('inReplyTo', o.inReplyTo);
    if (o.references !== undefined) {
      if (!Array.isArray(o.references) || o.references.length > 100)
        return '"references" must be a list of at most 100 Message-IDs';
      out.references = o.references.map((r) => idOf('references', r));
    }
    if (o.id !== undefined) out.id = idOf('id', o.id);
  } catch (err) {
    return (err as Error).message;
  }
  return out;
}

/** An ingest verdict as an HTTP status and a JSON answer. */
export function verdictAnswer(
  v: IngestVerdict,
  url?: (id: string) => string,
): { status: number; body: Record<string, unknown> } {
  switch (v.status) {
    case 'accepted':
      return { status: 201, body: { status: 'accepted', id: v.id, seq: v.seq, ...(url ? { url: url(v.id) } : {}) } };
    case 'duplicate':
      return { status: 200, body: { status: 'duplicate', id: v.id, ...(url ? { url: url(v.id) } : {}) } };
    case 'ignored':
      return { status: 200, body: { status: 'ignored', id: v.id, reason: v.reason } };
    case 'rejected':
      return { status: 422, body: { status: 'rejected', code: v.code, error: v.reason } };
    case 'tempfail':
      return {
        status: 503,
        body: { status: 'tempfail', code: v.code, error: `${v.reason}; nothing was kept, try again later` },
      };
  }
}

/** Post `input` with `grant` to the bridge `s`: refused (403) when the token or the endpoint may not, else ingested. */
export async function webPost(
  d: Pick<AppDeps, 'ingest' | 'log' | 'postUrl'>,
  grant: Grant,
  s: Served,
  input: PostInput,
): Promise<{ status: number; body: Record<string, unknown> }> {
  if (!mayPost(grant, s.bridge))
    return {
      status: 403,
      body: {
        status: 'rejected',
        code: 'not-allowed' satisfies ErrorCode,
        error: `the token "${grant.name}" may not post to bridge ${s.bridge}`,
      },
    };
  if (s.endpoint.direction === 'out')
    return {
      status: 403,
      body: {
        status: 'rejected',
        code: 'receive-only' satisfies ErrorCode,
        error: `${s.endpoint.key} only receives (direction: out): posting there is off`,
      },
    };
  const v = await d.ingest({
    target: s.name,
    author: { name: input.from ?? grant.name, via: 'web' },
    body: input.body,
    kind: 'message',
    ...(input.subject ? { subject: input.subject } : {}),
    ...(input.inReplyTo ? { inReplyTo: input.inReplyTo } : {}),
    ...(input.references ? { references: input.references } : {}),
    ...(input.id ? { id: input.id } : {}),
  });
  if (v.status === 'accepted')
    d.log.info({ id: v.id, bridge: s.bridge, token: grant.name }, `posted from the web to ${s.bridge}`);
  return verdictAnswer(v, d.postUrl);
}
