/**
 * Reading a followed plan: the answer of a remote fingerd, its "Plan:" part,
 * and whether that is a Thimbl plan (one JSON object) or plain text.
 * Pure functions: no sockets (follow.ts fetches).
 */
import { createHash } from 'node:crypto';
import { clean } from './text.js';

export interface ThimblMessage {
  /** As the plan wrote it (string or integer), for the stable id. */
  rawTime: string;
  date: Date;
  text: string;
  address?: string;
}

export interface ThimblPlan {
  name?: string;
  address?: string;
  bio?: string;
  messages: ThimblMessage[];
}

export type RemotePlan =
  { kind: 'thimbl'; plan: ThimblPlan } | { kind: 'plain'; text: string } | { kind: 'none'; why: string };

/** Remove the backslash-newline folds a Thimbl server inserted (even inside JSON strings and keys). */
export function unfold(s: string): string {
  return s.replace(/\\\r?\n/g, '');
}

/**
 * The plan part of a finger answer: what follows a line "Plan:" (a classic
 * fingerd header comes before it, and changes every minute: idle time), or the
 * whole answer when there is no such line (a server that prints only the plan).
 */
export function planPart(answer: string): { text: string } | { none: string } {
  const s = answer.replace(/\r\n?/g, '\n');
  const m = /^Plan:[ \t]*(.*)$/m.exec(s);
  if (m) {
    const after = s.slice(m.index + m[0].length - m[1]!.length);
    return { text: after };
  }
  if (/^No Plan\.?\s*$/m.test(s)) return { none: 'no plan' };
  if (/no such user/i.test(s) && s.trim().split('\n').length <= 2) return { none: `the remote answered: ${s.trim()}` };
  return { text: s };
}

/** "YYYYMMDDHHMMSS" (UTC), as a string or an integer; undefined when it is not one. */
export function parseThimblTime(t: unknown): { raw: string; date: Date } | undefined {
  const raw = typeof t === 'number' && Number.isInteger(t) ? String(t) : typeof t === 'string' ? t.trim() : undefined;
  if (raw === undefined) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(raw);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) return undefined;
  return { raw, date };
}

/** Try the plan text as a Thimbl plan: one JSON object with a messages array. */
export function parseThimbl(planText: string): ThimblPlan | undefined {
  const s = unfold(planText).trim();
  if (!s.startsWith('{')) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(s);
  } catch {
    // Some servers add text after the object: take the first balanced object.
    const end = s.lastIndexOf('}');
    try {
      obj = JSON.parse(s.slice(0, end + 1));
    } catch {
      return undefined;
    }
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  if (!Array.isArray(o.messages)) return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const messages: ThimblMessage[] = [];
  for (const m of o.messages) {
    if (!m || typeof m !== 'object') continue;
    const mm = m as Record<string, unknown>;
    const t = parseThimblTime(mm.time);
    const text = str(mm.text);
    if (!t || text === undefined || text.trim() === '') continue;
    const address = str(mm.address);
    messages.push({ rawTime: t.raw, date: t.date, text, ...(address ? { address } : {}) });
  }
  messages.sort((a, b) => a.date.getTime() - b.date.getTime());
  const plan: ThimblPlan = { messages };
  for (const k of ['name', 'address', 'bio'] as const) {
    const v = str(o[k]);
    if (v) plan[k] = v;
  }
  return plan;
}

/** Normalise a plain plan for comparing and posting: clean text, no trailing blanks, no blank lines at either end. */
export function normalisePlan(text: string): string {
  return clean(text, 'utf-8')
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

/** Read a finger answer as a followed plan. */
export function readRemotePlan(answer: string): RemotePlan {
  const part = planPart(answer);
  if ('none' in part) return { kind: 'none', why: part.none };
  const thimbl = parseThimbl(part.text);
  if (thimbl) return { kind: 'thimbl', plan: thimbl };
  const text = normalisePlan(part.text);
  if (text === '') return { kind: 'none', why: 'the plan is empty' };
  return { kind: 'plain', text };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The host part of an address for a Message-ID: printable, no brackets or ports. */
function idHost(host: string): string {
  const h = host.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9.-]/g, '-');
  return h || 'finger.invalid';
}

/**
 * The Message-ID of a Thimbl message: the same for the same message everywhere
 * (two peerpost nodes following one plan mint the same id, so neither doubles it).
 */
export function thimblMessageId(address: string, m: Pick<ThimblMessage, 'rawTime' | 'text'>, host: string): string {
  return `thimbl.${sha(`${address}\n${m.rawTime}\n${m.text}`).slice(0, 40)}@${idHost(host)}`;
}

/** The Message-ID of one text of a plain plan: the same text never makes two posts. */
export function planTextId(address: string, text: string, host: string): string {
  return `plan.${sha(`${address}\n${text}`).slice(0, 40)}@${idHost(host)}`;
}

export const textHash = (text: string) => sha(text).slice(0, 32);

/**
 * Plain-plan change detection: what to post, given the hashes of the texts
 * already posted (newest last). Undefined when the text was seen before.
 */
export function planChange(seen: readonly string[], text: string): { hash: string } | undefined {
  const hash = textHash(text);
  return seen.includes(hash) ? undefined : { hash };
}
