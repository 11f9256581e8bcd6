/**
 * Atom feeds (RFC 4287) of the archive: a bridge's newest posts (/b/NAME/atom) and a thread's (/t/ID/atom).
 *
 * The posts handed in are already as the public sees them (addresses by the bridge's archive.addresses); an
 * author's <email> is written only where the policy shows addresses, since a blurred one is no address.
 * Ids are name-based UUIDs (RFC 4122 version 5) of the Message-ID: the same post keeps the same entry id
 * whatever the site's address, and the id does not spell the Message-ID out. Every text is escaped, and the
 * characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF) are dropped.
 * Replies say what they answer with thr:in-reply-to (RFC 4685).
 */
import { createHash } from 'node:crypto';
import type { StoredPost } from '../../src/plugin.js';

export const ATOM_TYPE = 'application/atom+xml; charset=utf-8';

/** peerpost's namespace for name-based UUIDs (a fixed random UUID). */
const NAMESPACE = Buffer.from('fc3e63967c6f4800a4bf4905ff716bb2', 'hex');

/** A name-based UUID (version 5, SHA-1) in peerpost's namespace, as a URN. */
export function uuidUrn(name: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `urn:uuid:${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The entry id of a post: stable, from its Message-ID. */
export const entryId = (messageId: string) => uuidUrn(`post:${messageId}`);

/** Characters XML 1.0 cannot hold, even escaped. */
const NOT_XML =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text made safe for XML element content and quoted attributes. */
export function xmlText(s: string): string {
  return s
    .replace(NOT_XML, '')
    .replace(/[&<>"']/g, (c) =>
      c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
    );
}

/** RFC 3339 date-time in UTC, without milliseconds; a date that does not parse gives `fallback`. */
export function atomDate(iso: string, fallback: string): string {
  const t = new Date(iso);
  const d = Number.isNaN(t.getTime()) ? new Date(fallback) : t;
  return (Number.isNaN(d.getTime()) ? new Date(0) : d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An entry's title: the subject, else the first line that says something, else who posted where. */
export function entryTitle(p: Pick<StoredPost, 'subject' | 'body' | 'author'>, where: string): string {
  const subject = p.subject?.trim();
  if (subject) return subject;
  const line = p.body
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('>'));
  if (line) return [...line].length > 80 ? `${[...line].slice(0, 77).join('').trimEnd()}…` : line;
  return `${p.author.name || 'someone'} in ${where}`;
}

export interface FeedView {
  /** The feed's id (a URI: uuidUrn of what it follows). */
  id: string;
  title: string;
  subtitle?: string;
  /** Absolute: the feed itself (rel=self) and the page it follows (rel=alternate). */
  self: string;
  alternate: string;
  /** The site's title: the feed's author and generator line. */
  site: string;
  /** Newest first, as the public sees them (publicPost applied). */
  posts: readonly StoredPost[];
  /** The bridge's web name a post is shown under (for titles). */
  nameOf(p: StoredPost): string;
  /** Absolute links. */
  postUrl(id: string): string;
  threadUrl(p: StoredPost): string;
  /** Whether the author's address goes out as <email>: only where the bridge's policy shows addresses. */
  showEmail(p: StoredPost): boolean;
  /** When the feed has no entry, its updated time. */
  now: Date;
}

function entryXml(v: FeedView, p: StoredPost): string {
  const date = atomDate(p.date, p.receivedAt);
  const name = p.author.name.trim() || 'someone';
  const email = v.showEmail(p) && p.author.address ? `<email>${xmlText(p.author.address)}</email>` : '';
  const parent = p.inReplyTo ?? p.references[p.references.length - 1];
  return `<entry>
<id>${entryId(p.id)}</id>
<title type="text">${xmlText(entryTitle(p, v.nameOf(p)))}</title>
<updated>${date}</updated>
<published>${date}</published>
<author><name>${xmlText(name)}</name>${email}</author>
<link rel="alternate" type="text/html" href="${xmlText(v.postUrl(p.id))}"/>
<link rel="related" type="text/html" title="the whole thread" href="${xmlText(v.threadUrl(p))}"/>
${parent ? `<thr:in-reply-to ref="${entryId(parent)}" href="${xmlText(v.postUrl(parent))}"/>\n` : ''}<content type="text">${xmlText(p.body)}</content>
</entry>`;
}

/** The whole feed document. */
export function atomFeed(v: FeedView): string {
  const newest = v.posts.reduce<string | undefined>((m, p) => {
    const d = atomDate(p.date, p.receivedAt);
    return m === undefined || d > m ? d : m;
  }, undefined);
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">
<id>${xmlText(v.id)}</id>
<title type="text">${xmlText(v.title)}</title>
${v.subtitle ? `<subtitle type="text">${xmlText(v.subtitle)}</subtitle>\n` : ''}<updated>${newest ?? atomDate(v.now.toISOString(), '')}</updated>
<author><name>${xmlText(v.site)}</name></author>
<generator>peerpost</generator>
<link rel="self" type="application/atom+xml" href="${xmlText(v.self)}"/>
<link rel="alternate" type="text/html" href="${xmlText(v.alternate)}"/>
${v.posts.map((p) => entryXml(v, p)).join('\n')}
</feed>
`;
}
