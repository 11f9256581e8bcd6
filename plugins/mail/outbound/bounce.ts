/**
 * Bounces: RFC 3464 delivery status notifications (multipart/report with a
 * message/delivery-status part), and the two common non-standard formats
 * (qmail's "Hi. This is the qmail-send program", Exim's "could not be delivered
 * to one or more of its recipients") read from the text.
 *
 * A small parser of our own: mailparser leaves message/delivery-status parts out
 * of what it returns, and a DSN needs only MIME structure and header fields.
 */
import type { BounceRecipient } from './types.js';

export interface ParsedBounce {
  recipients: BounceRecipient[];
}

/** Header fields of a block (unfolded; names lower-cased; first occurrence wins). */
export function parseFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  const lines = block.split(/\r?\n/);
  let name: string | undefined;
  let value = '';
  const put = (): void => {
    if (name !== undefined && !fields.has(name)) fields.set(name, value.trim());
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && name !== undefined) {
      value += ` ${line.trim()}`;
      continue;
    }
    put();
    const colon = line.indexOf(':');
    if (colon <= 0) {
      name = undefined;
      continue;
    }
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  put();
  return fields;
}

/** Split a message into its header block and body. */
function splitMessage(text: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text, body: '' };
  return { head: text.slice(0, m.index), body: text.slice(m.index + m[0].length) };
}

function contentType(fields: Map<string, string>): { type: string; params: Map<string, string> } {
  const v = fields.get('content-type') ?? 'text/plain';
  const [type, ...rest] = v.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params.set(
      p.slice(0, eq).trim().toLowerCase(),
      p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return { type: type!.trim().toLowerCase(), params };
}

function decodeBody(body: string, fields: Map<string, string>): string {
  const cte = (fields.get('content-transfer-encoding') ?? '').toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') {
    return Buffer.from(
      body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
  return body;
}

interface Part {
  type: string;
  text: string;
}

/** Every leaf part of a MIME message (depth-limited), decoded to text. message/* parts other than DSNs are not entered. */
function leaves(text: string, depth = 0): Part[] {
  const { head, body } = splitMessage(text);
  const fields = parseFields(head);
  const ct = contentType(fields);
  const boundary = ct.params.get('boundary');
  if (ct.type.startsWith('multipart/') && boundary && depth < 5) {
    const parts: Part[] = [];
    const delim = `--${boundary}`;
    const chunks = body.split(new RegExp(`^${escapeRe(delim)}(?:--)?[ \\t]*\\r?$`, 'm'));
    for (const chunk of chunks.slice(1)) {
      const c = chunk.replace(/^\r?\n/, '');
      if (c.trim() === '') continue;
      parts.push(...leaves(c, depth + 1));
    }
    return parts;
  }
  return [{ type: ct.type, text: decodeBody(body, fields) }];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** "rfc822; bob@example.net" → "bob@example.net" */
function addressField(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const semi = v.indexOf(';');
  const a = (semi >= 0 ? v.slice(semi + 1) : v)
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .trim();
  return /^[^\s<>@]+@[^\s<>@]+$/.test(a) ? a : undefined;
}

/** 5.x.x, or a 5yz SMTP code, means permanent. */
function isPermanent(action: string, status: string, diagnostic?: string): boolean {
  if (action === 'failed') return !status.startsWith('4');
  if (action === 'delayed') return false;
  return status.startsWith('5') || /\b5\d\d\b/.test(diagnostic ?? '');
}

function fromDeliveryStatus(text: string): BounceRecipient[] {
  const blocks = text
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .filter((b) => b.trim() !== '');
  const out: BounceRecipient[] = [];
  for (const block of blocks.slice(1)) {
    const f = parseFields(block);
    const address = addressField(f.get('final-recipient')) ?? addressField(f.get('original-recipient'));
    if (!address) continue;
    const action = (f.get('action') ?? '').toLowerCase().split(/\s/)[0] ?? '';
    const status = /\d\.\d{1,3}\.\d{1,3}/.exec(f.get('status') ?? '')?.[0] ?? '';
    const diagnostic = f.get('diagnostic-code')?.replace(/^[^;]*;\s*/, '');
    out.push({
      address,
      action,
      status,
      permanent: isPermanent(action, status, diagnostic),
      ...(diagnostic ? { diagnostic } : {}),
    });
  }
  return out;
}

/** qmail: "Hi. This is the qmail-send program ..." then "<bob@example.net>:" and the reason on the next lines. */
function fromQmail(text: string): BounceRecipient[] {
  if (!/This is the qmail-send program/i.test(text)) return [];
  const out: BounceRecipient[] = [];
  const body = text.split(/--- Below this line is a copy of the message\./i)[0]!;
  const re = /^<([^\s<>@]+@[^\s<>@]+)>:\s*\n((?:(?!<[^\s<>@]+@[^\s<>@]+>:)[^\n]*\n?)*)/gm;
  for (const m of body.matchAll(re)) {
    const diagnostic = m[2]!.replace(/\s+/g, ' ').trim();
    const status =
      /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(diagnostic)?.[1] ?? (/\b4\d\d\b/.test(diagnostic) ? '4.0.0' : '5.0.0');
    const permanent = status.startsWith('5');
    out.push({
      address: m[1]!,
      action: permanent ? 'failed' : 'delayed',
      status,
      permanent,
      ...(diagnostic ? { diagnostic } : {}),
    });
  }
  return out;
}

/** Exim: "This message was created automatically by mail delivery software." ... "  bob@example.net\n    reason". */
function fromExim(text: string): BounceRecipient[] {
  if (!/could not be delivered to one or more of its\s+recipients/i.test(text)) return [];
  const section = text.split(/------ This is a copy of the message/i)[0]!;
  const after = section
    .split(/permanent error[^\n]*\n|failed:\s*\n/i)
    .slice(1)
    .join('\n');
  const out: BounceRecipient[] = [];
  const re = /^[ \t]+([^\s<>@]+@[^\s<>@]+)\s*\n((?:[ \t]{3,}[^\n]*\n?)*)/gm;
  for (const m of after.matchAll(re)) {
    const diagnostic = m[2]!.replace(/\s+/g, ' ').trim();
    const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(diagnostic)?.[1] ?? '5.0.0';
    out.push({
      address: m[1]!,
      action: 'failed',
      status,
      permanent: !status.startsWith('4'),
      ...(diagnostic ? { diagnostic } : {}),
    });
  }
  return out;
}

/**
 * Parse a DSN (RFC 3464 multipart/report) or a common non-standard bounce;
 * undefined when it is not a bounce (or names no recipient).
 */
export async function parseBounce(raw: Buffer): Promise<ParsedBounce | undefined> {
  const text = raw.subarray(0, 2_000_000).toString('utf8');
  const parts = leaves(text);
  const dsn = parts.filter((p) => p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status');
  if (dsn.length > 0) {
    const recipients = dsn.flatMap((p) => fromDeliveryStatus(p.text));
    return recipients.length > 0 ? { recipients } : undefined;
  }
  const plain = parts
    .filter((p) => p.type === 'text/plain')
    .map((p) => p.text)
    .join('\n')
    .replace(/\r\n/g, '\n');
  const recipients = [...fromQmail(plain), ...fromExim(plain)];
  return recipients.length > 0 ? { recipients } : undefined;
}
