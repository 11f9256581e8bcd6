/**
 * List addresses (issue 4, "List addresses"): for a list `commons` on the
 * domain `lists.example.org`,
 *
 *   commons@                  posts
 *   commons-join@             subscribe          commons-leave@    unsubscribe
 *   commons-request@          commands (subscribe, unsubscribe, help, confirm TOKEN)
 *   commons-confirm+TOKEN@    confirms a pending subscription or unsubscription
 *   commons-owner@            reaches the owners
 *   commons-moderate+TOKEN@   decides a held post (the signed address of its notice, plugins/mail/moderate.ts)
 *   commons-bounces[+…]@      takes bounces (VERP: commons-bounces+alice=example.org@)
 *
 * Everything else on any domain is not ours: the receiver answers 550.
 */

export type AddressKind = 'post' | 'join' | 'leave' | 'request' | 'confirm' | 'owner' | 'bounces' | 'moderate';

export interface ListAddress {
  list: string;
  kind: AddressKind;
  /** The part after "+": the token of a confirm address, the VERP part of a bounce address. */
  detail?: string;
  /** The local part as written (lower-cased), for verpDecode. */
  local: string;
}

/** The suffixes a list name may not end with, since they would make two lists' addresses collide. */
const SUFFIXES: Record<string, AddressKind> = {
  join: 'join',
  leave: 'leave',
  request: 'request',
  confirm: 'confirm',
  owner: 'owner',
  bounces: 'bounces',
  moderate: 'moderate',
};

/** A list name is the local part of its address: lower-case letters, digits, ".", "_", "-"; 1–30 characters. */
export function listNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9](?:[a-z0-9._-]{0,28}[a-z0-9])?$/.test(name))
    return `"${name}" cannot be a list name: write 1–30 lower-case letters, digits, ".", "_" or "-", starting and ending with a letter or digit (it becomes the address ${name}@DOMAIN)`;
  if (name.includes('..'))
    return `"${name}" cannot be a list name: two dots in a row are not allowed in a mail address`;
  for (const s of Object.keys(SUFFIXES))
    if (name.endsWith(`-${s}`))
      return `"${name}" cannot be a list name: it ends with "-${s}", which is the ${s} address of the list "${name.slice(0, -s.length - 1)}"`;
  return undefined;
}

/** Split "local@domain" (the last "@"); undefined when it is not an address. */
export function splitAddress(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** Normal form of an address for comparing and keying: trimmed, lower-case. */
export function normaliseAddress(address: string): string {
  return address.trim().toLowerCase();
}

/** A plausible mail address (what subscribers and owners may be): local@domain, no spaces or control characters. */
export function addressProblem(address: string): string | undefined {
  const a = address.trim();
  if (a.length > 254) return `"${a.slice(0, 40)}…" is longer than 254 characters`;
  if (
    !/^[^\s@<>(),;:"\\[\]\x00-\x1f\x7f]+@[^\s@<>(),;:"\\[\]\x00-\x1f\x7f]+\.[^\s@<>(),;:"\\[\]\x00-\x1f\x7f.]+$/u.test(
      a,
    )
  )
    return `"${a.slice(0, 80)}" is not a mail address (write local@domain.tld)`;
  return undefined;
}

/**
 * What a recipient address is to us: one of our lists' addresses, or undefined
 * (not ours: refuse it). `lists` are the list names of this account, `domain`
 * its mail domain; the comparison ignores case.
 */
export function classify(recipient: string, lists: readonly string[], domain: string): ListAddress | undefined {
  const parts = splitAddress(normaliseAddress(recipient));
  if (!parts || parts.domain !== domain.toLowerCase()) return undefined;
  const local = parts.local;
  const known = new Set(lists.map((l) => l.toLowerCase()));
  if (known.has(local)) return { list: local, kind: 'post', local };
  const plus = local.indexOf('+');
  const base = plus < 0 ? local : local.slice(0, plus);
  const detail = plus < 0 ? undefined : local.slice(plus + 1);
  const dash = base.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const list = base.slice(0, dash);
  const kind = SUFFIXES[base.slice(dash + 1)];
  if (!kind || !known.has(list)) return undefined;
  if (kind === 'confirm') return detail && /^[a-z0-9]{8,64}$/.test(detail) ? { list, kind, detail, local } : undefined;
  if (kind === 'moderate')
    return detail && /^[a-z0-9-]{1,80}$/.test(detail) ? { list, kind, detail, local } : undefined;
  if (kind === 'bounces')
    return detail === undefined ? { list, kind, local } : detail ? { list, kind, detail, local } : undefined;
  // +detail on other addresses (commons-join+x@) is not ours: there is nothing it could mean.
  return detail === undefined ? { list, kind, local } : undefined;
}

/** The addresses of one list. */
export function listAddresses(list: string, domain: string) {
  const at = `@${domain}`;
  return {
    post: `${list}${at}`,
    join: `${list}-join${at}`,
    leave: `${list}-leave${at}`,
    request: `${list}-request${at}`,
    owner: `${list}-owner${at}`,
    bounces: `${list}-bounces${at}`,
    confirm: (token: string) => `${list}-confirm+${token}${at}`,
    moderate: (token: string) => `${list}-moderate+${token}${at}`,
  };
}

/** The List-Id of a list (RFC 2919): "<commons.lists.example.org>" without the brackets. */
export function listId(list: string, domain: string): string {
  return `${list}.${domain}`.toLowerCase();
}
