/**
 * A received article (by POST to the built-in server, or fetched from a peer
 * server with ARTICLE) read into the pieces of a post. No sockets, no store.
 */
import { bareId, idProblem, type IncomingPost } from '../../src/plugin.js';
import { bodyText, decodeWords, header, msgIds, oneLine, parseFrom, splitArticle, type ParsedArticle } from './text.js';

export interface ReadArticle {
  parsed: ParsedArticle;
  /** The bare Message-ID, when the article has one. */
  id?: string;
  /** Newsgroups, lower-cased. */
  newsgroups: string[];
  /** Path elements, in order (the newest relay first). */
  path: string[];
  /** A Control: or Supersedes-free cancel: such articles are never relayed. */
  control: boolean;
  /** The article came through a peerpost node (it has X-Peerpost-Bridge). */
  viaPeerpost: boolean;
  /** The peerpost node that wrote the article (X-Peerpost-Node, lower-cased), when it names one. */
  node?: string;
  /** Everything of the post but its target and hops; body is a problem when it cannot be read. */
  post: Omit<IncomingPost, 'target' | 'hops' | 'id' | 'body'> & { body: string | { problem: string } };
}

/** A host name as node.hostname allows it (letters, digits, hyphens, dots). */
const HOST = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$/;

/** Read an article (dot-stuffing undone, CRLF ends); a string is the reason it cannot be a post. */
export function readArticle(raw: Buffer): ReadArticle | string {
  const a = splitArticle(raw);
  if (typeof a === 'string') return a;
  for (const h of ['From', 'Newsgroups', 'Subject']) if (!header(a, h)?.trim()) return `the article has no ${h} header`;
  const mid = header(a, 'Message-ID');
  let id: string | undefined;
  if (mid !== undefined) {
    if (Buffer.byteLength(mid) > 250) return 'the Message-ID is longer than 250 octets';
    id = bareId(mid);
    const problem = idProblem(id);
    if (problem) return problem;
  }
  const from = parseFrom(header(a, 'From')!);
  const refs = msgIds(header(a, 'References'));
  const irt = msgIds(header(a, 'In-Reply-To'))[0] ?? refs[refs.length - 1];
  const dateText = header(a, 'Date');
  const date = dateText ? new Date(dateText) : undefined;
  const node = header(a, 'X-Peerpost-Node')?.trim().toLowerCase();
  return {
    parsed: a,
    ...(node && HOST.test(node) ? { node } : {}),
    ...(id ? { id } : {}),
    newsgroups: header(a, 'Newsgroups')!
      .split(',')
      .map((g) => g.trim().toLowerCase())
      .filter(Boolean),
    path: (header(a, 'Path') ?? '')
      .split('!')
      .map((s) => s.trim())
      .filter(Boolean),
    control: header(a, 'Control') !== undefined || /^cmsg\s/i.test(header(a, 'Subject') ?? ''),
    viaPeerpost: header(a, 'X-Peerpost-Bridge') !== undefined,
    post: {
      author: {
        name: oneLine(from.name).slice(0, 200) || 'unknown',
        ...(from.address ? { address: from.address } : {}),
        via: 'nntp',
      },
      subject: oneLine(decodeWords(header(a, 'Subject')!)),
      body: bodyText(a),
      // A digest written by a peerpost node stays a digest here (the core never sends one to chat).
      kind:
        header(a, 'X-Peerpost-Bridge') !== undefined && header(a, 'X-Peerpost-Kind')?.trim().toLowerCase() === 'digest'
          ? 'digest'
          : 'message',
      ...(irt ? { inReplyTo: irt } : {}),
      references: refs,
      ...(date && !Number.isNaN(date.getTime()) && date.getTime() < Date.now() + 86_400_000 ? { date } : {}),
    },
  };
}
