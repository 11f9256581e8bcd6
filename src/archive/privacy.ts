/**
 * Addresses stay private: what a public view (web pages, the API without a token, feeds, the web's mbox, finger)
 * shows of a mail address, by the bridge's `archive.addresses` policy. Mail to subscribers and articles in the
 * news group keep the real From: they are the message itself, not a view of it.
 *
 *   show       alice@example.org
 *   obfuscate  alice@…ample.org   (the default: a person recognises it, a harvester cannot use it)
 *   hide       no address at all (in text: alice@…)
 */
import type { AddressPolicy } from '../config/types.js';
import type { Author, Post } from '../post.js';

/**
 * Mail addresses as they appear in text: the local part, "@", a domain with at least one dot. The lookbehind starts
 * a match only where a run of local-part characters starts, so a long run without "@" costs linear time, not
 * quadratic.
 */
const ADDRESS =
  /(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,})/g;

/** The domain with the first third of its first label (at least one character) cut: example.org → …ample.org. */
function blurDomain(domain: string): string {
  const dot = domain.indexOf('.');
  const label = dot < 0 ? domain : domain.slice(0, dot);
  const cut = Math.max(1, Math.floor(label.length / 3));
  return `…${domain.slice(cut)}`;
}

/** One address as a public view shows it, or undefined when the policy hides it. */
export function publicAddress(address: string, policy: AddressPolicy): string | undefined {
  if (policy === 'show') return address;
  if (policy === 'hide') return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0) return address;
  return `${address.slice(0, at)}@${blurDomain(address.slice(at + 1))}`;
}

/** Every address inside a text (a quoted "alice@example.org wrote:", a signature) as the policy shows it. */
export function publicText(text: string, policy: AddressPolicy): string {
  // No "@", no address: a mailed patch of 300 KB is not run through the pattern (3 ms) for nothing.
  if (policy === 'show' || !text.includes('@')) return text;
  return text.replace(ADDRESS, (_all, local: string, domain: string) =>
    policy === 'hide' ? `${local}@…` : `${local}@${blurDomain(domain)}`,
  );
}

/** Every mail address in these texts, each once, space-separated (the search index's addresses column). */
export function addressesIn(...texts: (string | undefined)[]): string {
  const seen = new Set<string>();
  for (const t of texts) if (t?.includes('@')) for (const m of t.matchAll(ADDRESS)) seen.add(m[0]);
  return [...seen].join(' ');
}

/** The author as a public view shows them: the name always (an address used as the name is treated as text). */
export function publicAuthor(author: Author, policy: AddressPolicy): Author {
  if (policy === 'show') return author;
  const { address, ...rest } = author;
  const shown = address === undefined ? undefined : publicAddress(address, policy);
  return { ...rest, name: publicText(author.name, policy), ...(shown !== undefined ? { address: shown } : {}) };
}

/** A post as a public view shows it: author, subject and body with every address as the policy says. */
export function publicPost<P extends Post>(post: P, policy: AddressPolicy): P {
  if (policy === 'show') return post;
  return {
    ...post,
    author: publicAuthor(post.author, policy),
    body: publicText(post.body, policy),
    ...(post.subject !== undefined ? { subject: publicText(post.subject, policy) } : {}),
  };
}
