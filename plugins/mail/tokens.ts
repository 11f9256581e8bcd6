/**
 * Tokens of the mail plugin.
 *
 * - Confirmation tokens (double opt-in): random, 96 bits, lower-case hex so they
 *   survive in a mail address (commons-confirm+TOKEN@) whose case a mail system
 *   may change; kept in the store with their expiry.
 * - Unsubscribe tokens (RFC 8058 one-click, and the web's confirmation page):
 *   per subscriber, signed with HMAC-SHA256 under ctx.secret('unsubscribe'), so
 *   nothing needs to be stored and a forged or altered token is refused.
 *   Form: base64url("v1\n" account "\n" list "\n" address) "." base64url(mac, 16 bytes).
 * - Preferences tokens (the "change settings" link of a list mail's footer): the same form with "p1", signed
 *   under ctx.secret('preferences'), so an unsubscribe link never opens the preferences page and the reverse.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export function confirmToken(): string {
  return randomBytes(12).toString('hex');
}

/** Pull a confirmation token out of free text ("Re: confirm 3f…", a body line). */
export function findConfirmToken(text: string): string | undefined {
  const m = /\bconfirm[\s:+]+([0-9a-f]{24})\b/i.exec(text);
  return m ? m[1]!.toLowerCase() : undefined;
}

export interface UnsubscribeClaim {
  account: string;
  list: string;
  address: string;
}

const b64 = (b: Buffer) => b.toString('base64url');

function mac(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(payload).digest().subarray(0, 16);
}

const KINDS = { unsubscribe: 'v1', preferences: 'p1' } as const;
type Kind = keyof typeof KINDS;

function sign(kind: Kind, key: Buffer, c: UnsubscribeClaim): string {
  const payload = Buffer.from(`${KINDS[kind]}\n${c.account}\n${c.list}\n${c.address}`, 'utf8');
  return `${b64(payload)}.${b64(mac(key, payload))}`;
}

function verify(kind: Kind, key: Buffer, token: string): UnsubscribeClaim | { problem: string } {
  if (typeof token !== 'string' || token.length > 1024) return { problem: `the ${kind} link is malformed` };
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/.exec(token.trim());
  if (!m) return { problem: `the ${kind} link is malformed (it may have been cut off; copy the whole link)` };
  const payload = Buffer.from(m[1]!, 'base64url');
  const given = Buffer.from(m[2]!, 'base64url');
  const want = mac(key, payload);
  if (given.length !== want.length || !timingSafeEqual(given, want))
    return { problem: `the ${kind} link is not valid (it was altered, or made by another server)` };
  const parts = payload.toString('utf8').split('\n');
  if (parts.length !== 4 || parts[0] !== KINDS[kind]) return { problem: `the ${kind} link is of an unknown kind` };
  return { account: parts[1]!, list: parts[2]!, address: parts[3]! };
}

export const signUnsubscribe = (key: Buffer, c: UnsubscribeClaim): string => sign('unsubscribe', key, c);
/** The claim of a well-formed token with a good signature, or why it is refused. */
export const verifyUnsubscribe = (key: Buffer, token: string) => verify('unsubscribe', key, token);
/** A member's preferences token (key: ctx.secret('preferences')). */
export const signPreferences = (key: Buffer, c: UnsubscribeClaim): string => sign('preferences', key, c);
export const verifyPreferences = (key: Buffer, token: string) => verify('preferences', key, token);
