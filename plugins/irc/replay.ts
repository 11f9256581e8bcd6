/**
 * Nothing said in a channel is lost while the bot is away: where the server
 * offers `draft/chathistory` (or `chathistory`), after every join (a reconnect,
 * a rejoin after a kick) the bot asks for the lines said since the last one it
 * saw there, relays each of them once, in order, dated by its server-time, and
 * only then the live lines that came meanwhile (held back until the replay of
 * that channel is over). The pure part (the request, what to relay, the gap,
 * the post ids): history.ts. See plugins/irc/README.md, "Catching up".
 *
 * The marks (the last line seen per channel) live in memory and in the
 * plugin's store (`history:<channel>`), written a second after they move and
 * at stop. A mark moves only once the line's post is committed (or the line
 * was not for relaying), in the order the lines came: a crash never leaves a
 * mark past a line that was not stored. One left behind by a crash only asks
 * for more: the posts' ids come from the lines' msgids, and the core keeps a
 * post once.
 */
import type { Client } from 'irc-framework';
import type { IrcAccount } from './account.js';
import { CASE_FOLDS } from './casemap.js';
import type { Channel } from './channel.js';
import type { ServerMessage } from './confirm.js';
import type { MessageEvent, MessageType } from './events.js';
import {
  HISTORY_BATCHES,
  HISTORY_CAPS,
  failText,
  gapText,
  beforeRequest,
  latestRequest,
  liveAfter,
  markOf,
  mergePage,
  needsPageBefore,
  msgidOf,
  planReplay,
  postIdFor,
  readMark,
  requestLimit,
  serverLimit,
  span,
  wasCut,
  type Line,
  type Mark,
} from './history.js';

const PREFIX = 'history:';

/** A CHATHISTORY request with no answer for this long is given up (and reported). */
const ANSWER_WAIT = 30_000;

/** The most pages (CHATHISTORY BEFORE after the first answer) one replay asks for. */
const MAX_PAGES = 10;

/** Marks are written to the store this long after they move (and at stop). */
const SAVE_DELAY = 1_000;

/** One channel's replay in progress on the current connection. */
interface Pending {
  chan: Channel;
  /** The mark the request started from. */
  mark: Mark;
  /** How many items were asked for. */
  requested: number;
  /** The answer's lines so far, every page merged, oldest first. */
  items: Line[];
  /** The lines of the page being answered, as its batch hands them over. */
  page: Line[];
  /** Pages asked for so far. */
  pages: number;
  /** Live lines that came meanwhile, held back. */
  held: Line[];
  /** The wait for the answer to the last request. */
  timer: NodeJS.Timeout | undefined;
}

export class History {
  /** The last line seen per channel (by the store's key), loaded from the store on first use. */
  private readonly marks = new Map<string, Mark>();
  /** Per channel: the promise after which its mark may move (marks move in the order lines came). */
  private readonly chains = new Map<string, Promise<void>>();
  /** Marks moved and not yet written. */
  private readonly dirty = new Set<string>();
  private saveTimer: NodeJS.Timeout | undefined;
  /** Replays in progress on the current connection, by the store's key of the channel. */
  private pending = new Map<string, Pending>();
  /** The connection whose replays these are. */
  private client: Client | undefined;
  /** The last gap or failure per channel (configured spelling), for `peerpost status`. */
  private readonly gaps = new Map<string, string>();

  constructor(private readonly account: IrcAccount) {
    account.ctx.onClose(() => this.stop());
  }

  /** The store's key of a channel: its name folded as rfc1459 (the widest fold, and the same on every server). */
  private keyOf(channel: string): string {
    return CASE_FOLDS.rfc1459(channel);
  }

  /** The connection offers chathistory (and `batch`, which frames its answers) and the config wants it. */
  enabled(client: Client | undefined = this.account.client): boolean {
    return (
      this.account.cfg.history.replay &&
      client !== undefined &&
      HISTORY_CAPS.some((c) => client.network.cap.isEnabled(c)) &&
      client.network.cap.isEnabled('batch')
    );
  }

  /** A new connection: ask for the capability, hear the answers. */
  wire(client: Client, mine: () => boolean): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending = new Map();
    this.client = client;
    if (this.account.cfg.history.replay) client.requestCap([...HISTORY_CAPS]);
    const me = (nick: string) => client.caseCompare(nick, client.user.nick);
    // After account.ts's own handler: the channel is joined.
    client.on('join', (ev: { nick: string; channel: string; time?: number }) => {
      if (!mine() || !me(ev.nick)) return;
      const chan = this.account.channel(ev.channel);
      if (chan) this.joined(client, chan, ev.time);
    });
    for (const type of HISTORY_BATCHES)
      client.on(`batch end ${type}`, (b: { params?: string[] }) => {
        if (mine() && b.params?.[0]) this.answered(b.params[0]);
      });
    client.connection.on('message', (m: ServerMessage) => {
      // FAIL CHATHISTORY <code> <subcommand> [<target>] :<description>
      if (!mine() || m.command !== 'FAIL' || m.params[0] !== 'CHATHISTORY') return;
      const target = m.params.slice(2, -1).find((p) => this.pending.has(this.keyOf(p)));
      const why = `${m.params[1] ?? 'FAIL'}: ${m.params[m.params.length - 1] ?? ''}`;
      for (const [k, p] of [...this.pending])
        if (target === undefined || k === this.keyOf(target)) this.failed(p, `the server said ${why}`);
    });
    client.on('close', () => {
      if (!mine()) return;
      // What was held back is in the server's history: the next join asks for it again (the mark did not move).
      for (const p of this.pending.values()) clearTimeout(p.timer);
      this.pending = new Map();
    });
  }

  /** The last line seen in a channel (memory, else the store). */
  mark(channel: string): Mark | undefined {
    const k = this.keyOf(channel);
    let m = this.marks.get(k);
    if (m === undefined) {
      m = readMark(this.account.ctx.store.get(`${PREFIX}${k}`));
      if (m) this.marks.set(k, m);
    }
    return m;
  }

  /** We joined `chan`: ask for what was said since its mark (none yet: it starts now). */
  private joined(client: Client, chan: Channel, joinTime: number | undefined): void {
    if (!this.enabled(client)) return;
    const k = this.keyOf(chan.name);
    const mark = this.mark(chan.name);
    if (!mark) {
      // The first join: nothing before it is ours to relay; from now on nothing is lost (written at once: a
      // restart a moment later must find it, or it would take the next join for another first one).
      this.move(k, { time: typeof joinTime === 'number' ? joinTime : Date.now() });
      this.save();
      return;
    }
    if (this.pending.has(k)) return;
    const h = this.account.cfg.history;
    const requested = requestLimit(
      h.maxLines,
      serverLimit(client.network.supports('CHATHISTORY') ?? client.network.supports('draft/CHATHISTORY')),
    );
    const p: Pending = { chan, mark, requested, items: [], page: [], pages: 1, held: [], timer: undefined };
    this.pending.set(k, p);
    this.account.ctx.log.debug({ channel: chan.name, mark }, `asking for the history of ${chan.name}`);
    this.ask(client, k, p, latestRequest(chan.name, mark, requested));
  }

  /** Send a request of a replay, through flood control; its answer is awaited ANSWER_WAIT at most. */
  private ask(client: Client, k: string, p: Pending, line: string): void {
    clearTimeout(p.timer);
    // Cleared by the answer, the connection's end and stop().
    p.timer = setTimeout(() => {
      if (this.pending.get(k) === p) this.failed(p, `no answer within ${ANSWER_WAIT / 1000}s`);
    }, ANSWER_WAIT);
    void (async () => {
      await this.account.bucket.take(this.account.ctx.signal);
      if (!(await this.account.write(client, line)) && this.pending.get(k) === p) this.pending.delete(k);
    })().catch(() => undefined);
  }

  /**
   * A line from irc-framework, before anything else looks at it: true when it is taken here (a line of a
   * history answer, or a live line held back while its channel's history is replayed), false when it goes
   * on as a live line now.
   */
  take(type: MessageType, ev: MessageEvent): boolean {
    const batch = (ev as { batch?: { type?: string; params?: string[] } }).batch;
    if (batch?.type !== undefined && HISTORY_BATCHES.has(batch.type)) {
      const p = this.pending.get(this.keyOf(batch.params?.[0] ?? ev.target));
      // A history batch no request of ours asked for (a server's replay on join) is not relayed: its lines
      // may be older than anything the bridge had, and they carry no mark to start from.
      if (p) p.page.push({ type, ev });
      else this.account.ctx.log.debug({ target: ev.target }, 'a history line no request asked for: not relayed');
      return true;
    }
    const p = this.pending.get(this.keyOf(ev.target));
    if (!p) return false;
    p.held.push({ type, ev });
    return true;
  }

  /**
   * A page of a channel's history answer is complete: ask for the one before it when the server may hold more
   * lines since the mark than it gave (needsPageBefore), else relay the answer, then the live lines held back.
   */
  private answered(channel: string): void {
    const k = this.keyOf(channel);
    const p = this.pending.get(k);
    if (!p) return;
    const h = this.account.cfg.history;
    // RELAYMSG lines in the answer come without their tag: the server's separators tell them (isRelayedName).
    const cap = this.client?.network.cap as { available?: Map<string, string> } | undefined;
    const separators = cap?.available?.get('draft/relaymsg');
    const page = p.page;
    p.page = [];
    const had = p.items.length;
    p.items = mergePage(page, p.items);
    const first = p.items[0]?.ev.time;
    const client = this.client;
    if (
      client &&
      p.pages < MAX_PAGES &&
      typeof first === 'number' &&
      needsPageBefore(page, p.items.length - had, p.items, {
        mark: p.mark,
        requested: p.requested,
        maxLines: h.maxLines,
        ...(separators ? { separators } : {}),
      })
    ) {
      p.pages += 1;
      this.ask(client, k, p, beforeRequest(p.chan.name, first, p.requested));
      return;
    }
    this.finish(p, wasCut(page, p.items, p.mark, p.requested));
  }

  /** The answer is all there will be (`cut`: lines before its first one may be missing): relay it, then the live lines. */
  private finish(p: Pending, cut: boolean): void {
    const k = this.keyOf(p.chan.name);
    if (this.pending.get(k) === p) this.pending.delete(k);
    clearTimeout(p.timer);
    const h = this.account.cfg.history;
    const cap = this.client?.network.cap as { available?: Map<string, string> } | undefined;
    const separators = cap?.available?.get('draft/relaymsg');
    const now = Date.now();
    const plan = planReplay(p.chan.name, p.items, {
      mark: p.mark,
      now,
      maxAgeMs: h.maxAge,
      maxLines: h.maxLines,
      cut,
      ...(separators ? { separators } : {}),
    });
    const log = this.account.ctx.log;
    if (plan.gap) {
      const text = gapText(plan.gap, { maxLines: h.maxLines, maxAge: span(h.maxAge) }, now);
      log.warn({ channel: p.chan.name, gap: plan.gap }, text);
      this.noted(p.chan.name, text);
    }
    log.info(
      { channel: p.chan.name, replayed: plan.replay.length, held: p.held.length, pages: p.pages },
      `history of ${p.chan.name}: ${plan.replay.length} ${plan.replay.length === 1 ? 'line' : 'lines'} said while away replayed`,
    );
    const incoming = this.account.incoming;
    for (const l of plan.replay) incoming.process(l.type, l.ev);
    for (const l of liveAfter(p.held, plan.msgids)) incoming.process(l.type, l.ev);
  }

  /**
   * The history (or a page before the first) could not be had: say so, relay the pages that came (what is
   * before them counts as cut), and let the live lines held back go.
   */
  private failed(p: Pending, why: string): void {
    const k = this.keyOf(p.chan.name);
    if (this.pending.get(k) === p) this.pending.delete(k);
    clearTimeout(p.timer);
    const text = failText(p.chan.name, p.mark.time, why, Date.now());
    this.account.ctx.log.warn({ channel: p.chan.name }, text);
    this.noted(p.chan.name, text);
    if (p.items.length > 0) return this.finish(p, true);
    for (const l of p.held) this.account.incoming.process(l.type, l.ev);
  }

  private noted(channel: string, text: string): void {
    this.gaps.set(channel, `${text} (at ${new Date().toISOString().slice(11, 19)} UTC)`);
    this.account.reportState();
  }

  /** The gaps and failures to show in `peerpost status`, one per channel. */
  notes(): string[] {
    return [...this.gaps.values()];
  }

  /**
   * The post id of a line in a channel, from its msgid (the same line is the same post, live or replayed),
   * when the connection replays history; else undefined (the core mints one).
   */
  postId(channel: string, ev: MessageEvent): string | undefined {
    const msgid = msgidOf(ev);
    if (msgid === undefined || !this.enabled()) return undefined;
    const { ctx } = this.account;
    return postIdFor(msgid, ctx.account, this.keyOf(channel), ctx.node.hostname);
  }

  /**
   * A line of `channel` was handled (relayed or not); `settled` resolves once its post is committed. The
   * channel's mark moves to it then, in the order the lines came.
   */
  seen(channel: string, ev: MessageEvent, settled: Promise<unknown> | undefined): void {
    if (!this.enabled()) return;
    const k = this.keyOf(channel);
    const m = markOf(ev, Date.now());
    const before = this.chains.get(k);
    if (!settled && !before) return this.move(k, m);
    const next = (before ?? Promise.resolve())
      .then(() => settled)
      .then(
        () => this.move(k, m),
        () => this.move(k, m),
      );
    this.chains.set(k, next);
    void next.then(() => {
      if (this.chains.get(k) === next) this.chains.delete(k);
    });
  }

  private move(k: string, m: Mark): void {
    const was = this.marks.get(k) ?? readMark(this.account.ctx.store.get(`${PREFIX}${k}`));
    if (was && was.time > m.time) return;
    this.marks.set(k, m);
    this.dirty.add(k);
    this.saveTimer ??= setTimeout(() => this.save(), SAVE_DELAY);
  }

  /** Write the marks that moved. */
  save(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const store = this.account.ctx.store;
    for (const k of this.dirty) {
      const m = this.marks.get(k);
      if (m) store.set(`${PREFIX}${k}`, m);
    }
    this.dirty.clear();
  }

  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending = new Map();
    try {
      this.save();
    } catch (err) {
      this.account.ctx.log.warn({ err }, `the channels' history marks could not be saved: ${(err as Error).message}`);
    }
  }
}
