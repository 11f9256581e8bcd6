/**
 * Bridge → IRC: what a post becomes in a channel (the lines, with their prefix,
 * split to the byte budget and capped), the tag that carries its id, and what
 * the loop guard remembers of it. Pure: no client, no store.
 */
import { announce, attachmentsSummary, type Post, type DeliveryTarget } from '../../src/plugin.js';
import { byteLength, capLines, formatPrefix, ircLines, moreLink, moreText, styleNick } from './text.js';
import { ID_TAG, type Said } from './relay.js';
import type { IrcConfig } from './schema.js';

/** A message tag value, escaped (IRCv3 message-tags). */
export const escapeTag = (v: string): string =>
  v.replace(/[\\; \r\n]/g, (ch) => ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[ch]!);

/** The keys of the account config that shape the lines. */
export type RenderConfig = Pick<
  IrcConfig,
  'moreUrl' | 'maxLines' | 'antiHighlight' | 'nickColours' | 'format' | 'eventFormat'
>;

/**
 * The IRC lines of a post for one endpoint, split to `budget` bytes and capped at maxLines.
 * The "read the rest" link: from `moreUrl` when configured, else `webLink` (the web plugin's permalink).
 */
export function postLines(
  cfg: RenderConfig,
  post: Post,
  to: Pick<DeliveryTarget, 'shape' | 'announceLines'>,
  budget: number,
  webLink?: string,
): string[] {
  const link = cfg.moreUrl !== undefined ? moreLink(cfg.moreUrl, post) : webLink;
  // The tail must fit in one line: a link too long for it is left out.
  const tail = (n: number, wrap: (t: string) => string) => {
    const withLink = wrap(moreText(n, link));
    return link && byteLength(withLink) > budget ? wrap(moreText(n)) : withLink;
  };
  // What files the post had (a mail post's attachments), in one short line: right under the head of an
  // announcement (so a cut never drops it), after the text of a post shown whole.
  const files = attachmentsSummary(post.attachments);
  if (to.shape === 'announce') {
    const a = announce(post, to.announceLines);
    const lines = ircLines([a.head, ...(files ? [files] : []), ...a.lines], '', budget);
    if (lines.length + (a.more > 0 ? 1 : 0) <= cfg.maxLines)
      return a.more > 0 ? [...lines, tail(a.more, (t) => `(${t})`)] : lines;
    // Cut further by maxLines: the tail counts the lines left out of the announcement and those it never showed.
    return capLines(lines, cfg.maxLines, (n) => tail(n + a.more, (t) => `… (${t})`)).slice(0, cfg.maxLines);
  }
  const { prefix, body } = streamParts(cfg, post, files);
  return capLines(ircLines(body, prefix, budget), cfg.maxLines, (n) => tail(n, (t) => `… (${t})`));
}

/** A chat post's prefix (`format`, `* nick ` for an action, `eventFormat` for an event) and its lines of text. */
function streamParts(cfg: RenderConfig, post: Post, files: string | undefined): { prefix: string; body: string[] } {
  const style = (n: string) => styleNick(n, { antiHighlight: cfg.antiHighlight, colour: cfg.nickColours });
  const vars = { nick: post.author.name, bridge: post.bridge, protocol: post.author.via, origin: post.origin.account };
  let prefix: string;
  let body = post.body.split('\n');
  if (post.kind === 'action') {
    prefix = `* ${style(formatPrefix('{nick}', vars))} `;
  } else if (post.kind === 'event') {
    // "alice joined": the nick at its start is styled like a nick in a prefix.
    prefix = formatPrefix(cfg.eventFormat, vars);
    const first = body[0] ?? '';
    if ((cfg.antiHighlight || cfg.nickColours) && first.startsWith(`${post.author.name} `)) {
      prefix += `${style(formatPrefix('{nick}', vars))} `;
      body = [first.slice(post.author.name.length + 1), ...body.slice(1)];
    }
  } else {
    prefix = formatPrefix(cfg.format, vars, style);
  }
  if (files) body = [...body, files];
  return { prefix, body };
}

/** The bytes CTCP ACTION adds around an action's text said by RELAYMSG ("\x01ACTION " and "\x01"). */
export const ACTION_BYTES = 9;

/**
 * The lines of a post said by RELAYMSG (draft/relaymsg) from the author's own nick: no prefix (an action's lines are
 * sent as CTCP ACTION: `budget` here leaves room for it), split to `budget` and capped at maxLines like postLines. An
 * announcement (mail, news) is the same as postLines: it has no prefix.
 */
export function relayLines(
  cfg: RenderConfig,
  post: Post,
  to: Pick<DeliveryTarget, 'shape' | 'announceLines'>,
  budget: number,
  webLink?: string,
): string[] {
  if (to.shape === 'announce') return postLines(cfg, post, to, budget, webLink);
  const link = cfg.moreUrl !== undefined ? moreLink(cfg.moreUrl, post) : webLink;
  const room = post.kind === 'action' ? budget - ACTION_BYTES : budget;
  const tail = (n: number) => {
    const withLink = `… (${moreText(n, link)})`;
    return link && byteLength(withLink) > room ? `… (${moreText(n)})` : withLink;
  };
  const { body } = streamParts(cfg, post, attachmentsSummary(post.attachments));
  return capLines(ircLines(body, '', room), cfg.maxLines, tail);
}

/**
 * What is left of a post that RELAYMSG began and the server then refused: the relay lines not yet shown (`rest`),
 * said as ordinary lines with the post's prefix (postLines' prefix; an announcement has none), split again to fit.
 */
export function fallbackLines(
  cfg: RenderConfig,
  post: Post,
  to: Pick<DeliveryTarget, 'shape'>,
  rest: readonly string[],
  budget: number,
): string[] {
  const prefix = to.shape === 'announce' ? '' : streamParts(cfg, post, undefined).prefix;
  return ircLines(rest, prefix, budget);
}

/** What the loop guard remembers of a post: its id, author, first line (an article's subject) and the path it came by. */
export function saidOf(post: Post): Said {
  const first = post.subject?.trim() || post.body.split('\n').find((l) => l.trim() !== '') || '';
  return { id: post.id, author: post.author.name, text: first, origin: `${post.origin.account}/${post.origin.target}` };
}

/** The server's CLIENTTAGDENY (ISUPPORT) forbids our client-only tag. */
export function tagDenied(deny: readonly string[]): boolean {
  const name = ID_TAG.slice(1);
  const allowed = deny.includes(`-${name}`);
  return !allowed && (deny.includes('*') || deny.includes(name));
}
