/**
 * Bridge → IRC: one post to one channel. Its lines (render.ts) go through the
 * flood control and are written at once; the answer to the outbox waits until
 * the server confirmed them (confirm.ts: their echo, or a PING after them): a
 * refusal (404 +m/+b, 442 …) keeps the post pending with the server's reason,
 * a connection lost before the confirmation sends the unconfirmed lines again,
 * and a post cut short (flood control, a disconnect) goes on from its first
 * unconfirmed line on the next try (progress.ts).
 *
 * Said first (sayFirst, docs/design.md): a line nothing can give again is written before its commit when it can be
 * at once; the delivery that follows the commit then only waits for the server's confirmation of those lines.
 */
import {
  delivered,
  retry,
  failed,
  plural,
  type Post,
  type DeliveryTarget,
  type FirstTarget,
  type Outcome,
} from '../../src/plugin.js';
import type { Client } from 'irc-framework';
import type { IrcAccount } from './account.js';
import type { Channel } from './channel.js';
import { refusalText, type Confirmation, type Delivery, type Refusal } from './confirm.js';
import { Progress, type RowProgress } from './progress.js';
import { ID_TAG, eventsOut, type EventsMode, type Said } from './relay.js';
import { escapeTag, fallbackLines, postLines, relayLines, saidOf, tagDenied } from './render.js';
import { channelProblem } from './schema.js';
import { secs, textBudget } from './text.js';

export class Outgoing {
  /** Lines of each row confirmed on an earlier try. */
  private readonly progress: Progress;

  constructor(private readonly account: IrcAccount) {
    this.progress = new Progress(account.ctx.store);
  }

  /** Rows being sent now: a try the outbox gave up on (delivery.timeout) may still be writing. */
  private readonly sending = new Set<number>();

  /** Posts said first (sayFirst), by post id and target, until their delivery after the commit takes them. */
  private readonly firstSaid = new Map<string, FirstSaid>();

  /**
   * Say a post first, before its commit (AccountHandle.sayFirst): only what needs no waiting — connected and in the
   * channel, ordinary lines (not RELAYMSG), not shown there already, every line's token in the flood bucket now
   * with no one waiting for one. The lines are written and their confirmation asked for at once; deliverRow, after
   * the commit, waits for it instead of writing them.
   */
  sayFirst(post: Post, to: FirstTarget): boolean {
    const key = firstKey(post.id, to.target);
    if (this.firstSaid.has(key)) return true; // handed again after a commit that failed: said already
    const a = this.account;
    if (post.kind === 'event' || channelProblem(to.target)) return false;
    const c = a.channel(to.target);
    const live = a.live();
    if (!c || !live || !c.joined || c.problem !== undefined) return false;
    const { client, confirmer } = live;
    const plan = this.plan(post, to, c, textBudget({ nick: client.user.nick, ...a.self }, c.name), undefined);
    if (plan.relay || plan.nick !== undefined || plan.lines.length === 0) return false;
    const said = saidOf(post);
    if (c.shows(said) || !a.bucket.takeNow(plan.lines.length)) return false;
    const tag = this.idTag(client, post);
    const d = confirmer.begin(c.name);
    for (const text of plan.lines) {
      confirmer.line(d);
      void a.write(client, `${tag}PRIVMSG ${c.name} :${text}`);
    }
    // Kept until the delivery takes it; a commit that failed for good leaves it to this timer.
    const timer = setTimeout(() => this.firstSaid.delete(key), FIRST_KEPT_MS);
    timer.unref();
    this.firstSaid.set(key, { lines: plan.lines.length, plan, said, d, answer: confirmer.end(d), timer });
    a.ctx.log.trace({ target: c.name, post: post.id }, `said in ${c.name} before its commit`);
    return true;
  }

  /**
   * The delivery of a post said first: its lines are written; wait for the server's confirmation of them as for
   * any try (delivered, or what deliverRow answers for a refusal or a lost confirmation: the lines are sent again).
   */
  private async finishFirst(post: Post, to: DeliveryTarget, f: FirstSaid, began: number): Promise<Outcome> {
    to.written?.();
    const r = await this.within(f.answer, began, () => this.progress.set(to.row, { id: post.id, sent: f.lines }));
    const c = this.account.channel(to.target);
    if (!r.ok) {
      if ('refused' in r && c) return this.refused(post, c, f.plan, r, 0, f.lines, to.row);
      return retry(
        `${'lost' in r ? r.lost : refusalText(r.refused)}; the ${f.lines === 1 ? 'line is' : `${f.lines} lines are`} sent again on the next try`,
      );
    }
    this.account.ctx.log.debug(
      { target: to.target, post: post.id, lines: f.lines, first: true },
      `the server took the lines (confirmed by ${f.d.by === 'echo' ? 'their echo' : 'a PING'}; said before the commit)`,
    );
    if (c?.linesTaken()) {
      this.account.ctx.log.info({ channel: c.name }, `${c.name} takes our lines again`);
      this.account.reportState();
    }
    c?.said(f.said);
    return delivered();
  }

  /**
   * A confirmation, waited for until the outbox's delivery.timeout is near (a second before it). One that comes
   * later still counts the lines as said (`late`, when it is ok), so that the next try does not say them again.
   */
  private async within(answer: Promise<Confirmation>, began: number, late: () => void): Promise<Confirmation> {
    const left = Math.max(1_000, began + this.account.ctx.deliveryTimeoutMs() - 1_000 - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      answer,
      new Promise<Confirmation>((res) => {
        timer = setTimeout(
          () => res({ ok: false, lost: `the server did not confirm the lines within ${secs(left)} (lag)` }),
          left,
        );
      }),
    ]);
    clearTimeout(timer);
    if (!r.ok && 'lost' in r && !this.account.stopping)
      void answer.then((l) => {
        if (l.ok) late();
      });
    return r;
  }

  /** Where the server takes client-only tags, every line carries the post id, so another relay can tell. */
  private idTag(client: Client, post: Post): string {
    const tagsOk =
      this.account.cfg.relays.tags &&
      client.network.cap.isEnabled('message-tags') &&
      !tagDenied(
        (client.network as unknown as { options?: { CLIENTTAGDENY?: string[] } }).options?.CLIENTTAGDENY ?? [],
      );
    return tagsOk ? `@${ID_TAG}=${escapeTag(post.id)} ` : '';
  }

  async deliver(post: Post, to: DeliveryTarget): Promise<Outcome> {
    // Never two tries of one row at once: the second could repeat lines the first is still writing.
    if (this.sending.has(to.row)) return retry('the previous try of this post is still being sent');
    this.sending.add(to.row);
    try {
      return await this.deliverRow(post, to);
    } finally {
      this.sending.delete(to.row);
    }
  }

  /** The web plugin's permalink of a post, when a web account runs and serves the post's bridge. */
  private webLink(post: Post): string | undefined {
    try {
      const links = this.account.ctx.service('web.links')?.();
      return links && links.archive(post.bridge) !== undefined ? links.post(post.id) : undefined;
    } catch (err) {
      this.account.ctx.log.debug({ err }, 'web.links failed; no link to the rest');
      return undefined;
    }
  }

  private async deliverRow(post: Post, to: DeliveryTarget): Promise<Outcome> {
    const began = Date.now();
    const key = firstKey(post.id, to.target);
    const first = this.firstSaid.get(key);
    if (first) {
      this.firstSaid.delete(key);
      clearTimeout(first.timer);
      return this.finishFirst(post, to, first, began);
    }
    if (channelProblem(to.target)) return failed(`${to.target} is not an IRC channel`, 'bad-target');
    if (post.kind === 'event' && !eventsOut((to.options.events as EventsMode | undefined) ?? this.account.cfg.events)) {
      this.account.ctx.log.trace(
        { target: to.target, post: post.id },
        'an event not shown here (events is off or "in")',
      );
      return delivered();
    }
    const c = this.account.channel(to.target);
    if (!c) {
      this.account.syncChannels();
      if (!this.account.channel(to.target))
        return failed(`${to.target} is not a channel of ${this.account.ctx.account} in the config`, 'no-endpoint');
      return retry(`not in ${to.target} yet`);
    }
    const live = this.account.live();
    if (!live)
      return retry(
        `disconnected from ${this.account.where}${this.account.lastError ? `: ${this.account.lastError}` : ''}`,
      );
    const { client, confirmer } = live;
    if (!c.joined) {
      this.account.syncChannels();
      return retry(c.problem ?? `not in ${c.name} yet (joining)`);
    }
    const budget = textBudget({ nick: client.user.nick, ...this.account.self }, c.name);
    // Lines of this post the server confirmed on an earlier try (kept in the store, so a restart does not repeat them).
    const done = this.progress.get(to.row);
    const prior = done && done.id === post.id ? done : undefined;
    // Said by RELAYMSG from the author's own nick, or as ordinary lines with the prefix (relaymsg.ts).
    const plan = this.plan(post, to, c, budget, prior);
    const { lines } = plan;
    const start = prior ? Math.min(prior.sent, lines.length) : 0;
    /** What the store keeps of this row's progress: the lines shown, and how the post is being said. */
    const mark = (n: number) =>
      this.progress.set(to.row, {
        id: post.id,
        sent: n,
        ...(plan.nick !== undefined ? { relay: plan.nick } : {}),
        ...(plan.said ? { said: plan.said } : {}),
      });
    let sent = start;
    const said = saidOf(post);
    if (sent === 0) {
      const why = c.shows(said);
      if (why) {
        this.account.ctx.log.info(
          { target: c.name, post: post.id, author: post.author.name },
          `not said in ${c.name} again: ${why}`,
        );
        return delivered();
      }
    }
    const tag = this.idTag(client, post);
    const deadline = Date.now() + this.account.cfg.flood.maxWait;
    // Begun before the first line: a refusal can come back while later lines are still being written.
    const d = confirmer.begin(c.name);
    try {
      /** Wait for the server to have handled what this try wrote: a PING after it, answered. */
      const confirm = (): Promise<Confirmation> => {
        const upTo = sent;
        // Answer the outbox before its delivery.timeout; a late confirmation still counts the lines as said.
        return this.within(confirmer.end(d), began, () => mark(upTo));
      };
      /** Stop this try: what the server confirmed counts, the rest is sent on the next. */
      const stop = async (why: string, delayMs?: number): Promise<Outcome> => {
        if (sent > start) {
          const r = await confirm();
          if (!r.ok) {
            sent = start;
            if ('refused' in r) return this.refused(post, c, plan, r, start, lines.length, to.row);
          }
        } else confirmer.drop(d);
        if (sent > 0) mark(sent);
        const note = sent > 0 ? ` (${sent} of ${plural(lines.length, 'line')} sent; the rest follows)` : '';
        // The outbox does not wake a worker when a retry's delay is over (only the next post, a resume or its
        // 60 s sweep does): wake it ourselves, so the rest of the post follows after delayMs, not a minute later.
        if (delayMs !== undefined) this.account.later(() => this.account.ctx.resume(c.name), delayMs + 5);
        return retry(why + note, delayMs);
      };
      while (sent < lines.length) {
        const wait = this.account.bucket.estimate();
        if (Date.now() + wait > deadline) return stop('flood control', Math.min(wait, this.account.cfg.flood.maxWait));
        try {
          await this.account.bucket.take(this.account.ctx.signal);
        } catch {
          return stop('stopping');
        }
        if (!this.account.isLive(client)) return stop(`disconnected from ${this.account.where}`);
        if (!c.joined) return stop(c.problem ?? `not in ${c.name}`);
        confirmer.line(d, plan.relay);
        const text = lines[sent]!;
        const ok = await this.account.write(
          client,
          plan.relay
            ? `${tag}RELAYMSG ${c.name} ${plan.nick} :${plan.action ? `\x01ACTION ${text}\x01` : text}`
            : `${tag}PRIVMSG ${c.name} :${text}`,
        );
        if (!ok) return stop(`disconnected from ${this.account.where} while sending`);
        sent += 1;
      }
      // Every line is written: the outbox may start this channel's next post, whose lines go after these
      // (and whose PING, or this one's, confirms both: confirm.ts).
      to.written?.();
      if (sent > start) {
        const r = await confirm();
        if (!r.ok) {
          if ('refused' in r) return this.refused(post, c, plan, r, start, lines.length, to.row);
          if (start > 0) mark(start);
          return retry(
            `${r.lost}; the ${sent - start === 1 ? 'line is' : `${sent - start} lines are`} sent again on the next try`,
          );
        }
        this.account.ctx.log.debug(
          { target: c.name, post: post.id, lines: sent - start },
          `the server took the lines (confirmed by ${d.by === 'echo' ? 'their echo' : 'a PING'})`,
        );
      } else confirmer.drop(d);
      if (done) this.progress.delete(to.row);
      if (c.linesTaken()) {
        this.account.ctx.log.info({ channel: c.name }, `${c.name} takes our lines again`);
        this.account.reportState();
      }
      c.said(said);
      return delivered();
    } catch (err) {
      // Never leave a begun delivery open: a PING waiting for it to end would wait for its cap.
      confirmer.drop(d);
      throw err;
    }
  }

  /**
   * How this post is said here: by RELAYMSG from its author's nick (relaymsg.ts: the account has `relaymsg`, the
   * server offers it and has not refused it here), as ordinary lines with the prefix, or — RELAYMSG refused after
   * some of its lines were shown — the rest of its relay lines with the prefix (`said`: the relay lines shown).
   * An earlier try decides (the store's progress), so that no line is said twice in two ways.
   */
  private plan(post: Post, to: FirstTarget, c: Channel, budget: number, prior: RowProgress | undefined): Plan {
    const a = this.account;
    const client = a.client!;
    const link = this.webLink(post);
    const nick = prior ? prior.relay : a.relaymsg.plan(client, c.name, post);
    if (nick === undefined) return { lines: postLines(a.cfg, post, to, budget, link), relay: false };
    // The others see ":nick!user@host PRIVMSG #chan :" in front: the relayed nick, the server's user and host.
    const relayed = relayLines(a.cfg, post, to, textBudget({ nick }, c.name), link);
    let said = prior?.said;
    if (!said && prior && !a.relaymsg.may(client, c.name, nick))
      // Begun by RELAYMSG, which this connection may no longer use here: the rest goes with the prefix.
      said = relayed.slice(0, prior.sent).map((_, i) => i);
    if (!said) return { lines: relayed, relay: true, nick, action: post.kind === 'action' };
    const shown = new Set(said);
    const rest = relayed.filter((_, i) => !shown.has(i));
    return {
      lines: [...relayed.filter((_, i) => shown.has(i)), ...fallbackLines(a.cfg, post, to, rest, budget)],
      relay: false,
      nick,
      said,
    };
  }

  /**
   * The server refused lines of this try. RELAYMSG refused (relaymsg.ts: not a channel operator, the nick, …): the
   * post goes on at once as its other lines with the prefix, from the first line not shown (with echo-message the
   * server answered each line, so those it showed are known; without, every line of this try is said again). Any
   * other refusal: refusedLines.
   */
  private refused(
    post: Post,
    c: Channel,
    plan: Plan,
    r: { refused: Refusal[]; said?: number[] },
    start: number,
    total: number,
    row: number,
  ): Outcome {
    if (!plan.relay || plan.nick === undefined || !r.refused.every((x) => x.relay))
      return this.refusedLines(c, r.refused, start, total);
    const said = [...Array(start).keys(), ...(r.said ?? []).map((i) => start + i)];
    this.progress.set(row, { id: post.id, sent: said.length, relay: plan.nick, said });
    const why = this.account.relaymsg.refused(c.name, plan.nick, r.refused);
    this.account.later(() => this.account.ctx.resume(c.name), 5);
    return retry(`${why} (${said.length} of ${plural(total, 'line')} shown by RELAYMSG; the rest follows)`, 0);
  }

  /**
   * The server refused lines of this try (404 +m/+b, 442 …): they are sent again, from the first of this try, on the
   * next one — after the outbox's backoff, or at once when a mode changes in the channel (-m, -b, +v).
   */
  private refusedLines(c: Channel, refused: readonly Refusal[], start: number, total: number): Outcome {
    const why = refusalText(refused);
    // Not (or no longer) in the channel (442, 403): rejoin; whatever waits follows the JOIN.
    const notOn = refused.some((r) => r.code === '442' || r.code === '403');
    if (c.linesRefused(why, notOn))
      this.account.ctx.log.warn(
        { channel: c.name, codes: [...new Set(refused.map((r) => r.code))] },
        `${why}; the post waits in the outbox`,
      );
    if (notOn) this.account.syncChannels();
    this.account.reportState();
    return retry(
      `${why}${start > 0 ? ` (${start} of ${plural(total, 'line')} ${start === 1 ? 'was' : 'were'} said before)` : ''}`,
    );
  }
}

/** How long a post said first waits for its delivery (after its commit, within milliseconds; a commit that failed: never). */
const FIRST_KEPT_MS = 120_000;

const firstKey = (id: string, target: string) => `${id}\n${target}`;

/** A post said first (Outgoing.sayFirst), until its delivery takes it. */
interface FirstSaid {
  lines: number;
  plan: Plan;
  said: Said;
  d: Delivery;
  answer: Promise<Confirmation>;
  timer: NodeJS.Timeout;
}

/** How a post is said in a channel (Outgoing.plan). */
interface Plan {
  lines: string[];
  /** Every line by RELAYMSG from `nick`. */
  relay: boolean;
  /** The relayed nick: RELAYMSG (`relay`), or the post was begun by RELAYMSG (`said`). */
  nick?: string;
  /** An action: RELAYMSG lines are CTCP ACTIONs. */
  action?: boolean;
  /** Begun by RELAYMSG and refused: the relay lines shown (`lines` starts with them, then the rest with the prefix). */
  said?: number[];
}
