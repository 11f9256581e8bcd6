/**
 * The Post: the one protocol-neutral message that flows through the core
 * (docs/design.md, "The post"). Plugins turn protocol input into an IncomingPost;
 * the core completes it into a Post, stores it, and hands it to deliverers.
 */
import { randomUUID } from 'node:crypto';

export type PostKind = 'message' | 'action' | 'notice' | 'digest' | 'plan' | 'event';
export const POST_KINDS: readonly PostKind[] = ['message', 'action', 'notice', 'digest', 'plan', 'event'];

export interface Attachment {
  filename: string;
  contentType: string;
  size: number;
}

export interface Author {
  /** Display name: an IRC nick, a mail display name, a finger user. */
  name: string;
  /** Mail address where the protocol has one. */
  address?: string;
  /** Protocol it came in by: "irc", "mail", "nntp", "finger", "web", "cli". */
  via: string;
  /** The services account the network vouches for (IRCv3 account-tag), when there is one. */
  account?: string;
}

export interface Post {
  /** RFC 5322 Message-ID without the angle brackets. */
  id: string;
  bridge: string;
  origin: { account: string; target: string };
  author: Author;
  subject?: string;
  /** text/plain, UTF-8, "\n" line ends. */
  body: string;
  kind: PostKind;
  inReplyTo?: string;
  references: string[];
  /** Relays crossed so far; the core refuses a post past node.maxHops. */
  hops: number;
  /** ISO 8601, UTC. */
  date: string;
  attachments: Attachment[];
}

/** A post as it sits in the store: with its position (a cursor for replay) and arrival time. */
export interface StoredPost extends Post {
  seq: number;
  receivedAt: string;
  /** Carried in from an old archive (`peerpost import`): placed by its date, never announced as new. */
  imported?: true;
}

/** What a plugin hands to ingest(): the core fills in the bridge, the id when missing, and defaults. */
export interface IncomingPost {
  /** The target inside the plugin's account where it arrived: "#commons", "peerpost.commons", "commons". */
  target: string;
  author: Author;
  body: string;
  id?: string;
  subject?: string;
  kind?: PostKind;
  inReplyTo?: string;
  references?: string[];
  hops?: number;
  date?: string | Date;
  attachments?: Attachment[];
  /**
   * Nothing can give this post again: its place waits for no acknowledgement and cannot be asked for it after a
   * crash (an IRC line on a server without chathistory). Its chat deliveries may then be said before its commit
   * (AccountHandle.sayFirst): a crash before the commit loses it from the archive either way, and the commit would
   * only delay the line. When the core says it first and mints its id, it sets `id` here, so that handing the same
   * object again (after a tempfail) keeps the post's id and it is not said twice.
   */
  volatile?: boolean;
}

/** The longest Message-ID NNTP accepts (RFC 3977 section 3.6), so it is the longest we accept anywhere. */
export const MAX_ID_OCTETS = 250;

/** Strip one pair of angle brackets and surrounding space. */
export function bareId(id: string): string {
  const t = id.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}

/** Why a Message-ID (bare, without <>) is unusable, or undefined when it is fine. */
export function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'the Message-ID is empty';
  if (Buffer.byteLength(id, 'utf8') + 2 > MAX_ID_OCTETS) return `the Message-ID is longer than ${MAX_ID_OCTETS} octets`;
  // RFC 5536 3.1.3: printable US-ASCII, no space, no "<" or ">", and an "@".
  if (!/^[\x21-\x7e]+$/.test(id) || /[<>]/.test(id))
    return 'the Message-ID holds a space, a control character, "<" or ">"';
  const at = id.lastIndexOf('@');
  if (at <= 0 || at === id.length - 1) return 'the Message-ID has no "left@right" form';
  return undefined;
}

export function mintId(hostname: string): string {
  return `${randomUUID()}@${hostname}`;
}

/** Normalise line ends to "\n" and drop a trailing NUL-free BOM. */
export function normaliseBody(body: string): string {
  return body.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** A row of the posts table as SQL reads it (seq, received_at, the post as JSON). */
export interface StoredRow {
  seq: number;
  received_at: number;
  data: string;
  /** 1 for an imported post (migration 10), when the statement reads it. */
  imported?: number;
}

/** A stored row as the post it holds. */
export function toStored(r: StoredRow): StoredPost {
  return {
    ...(JSON.parse(r.data) as Post),
    seq: r.seq,
    receivedAt: new Date(r.received_at).toISOString(),
    ...(r.imported ? { imported: true as const } : {}),
  };
}
