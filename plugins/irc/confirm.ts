/**
 * Delivery confirmation: a line written to the socket is not yet a line the
 * channel shows. The server may refuse it (404 cannot send to channel: +m, +b,
 * +n; 442 not on channel; 477 needs a registered nick …) and answers that with a
 * numeric, or the connection may die before the server read it.
 *
 * The server handles one client's lines in order, so a PING written after a
 * post's lines is answered (PONG) after every refusal of those lines. One
 * Confirmer per connection: a delivery begin()s before its first line (so a
 * refusal that comes back while later lines are still being written is not
 * missed), end()s after its last, and its promise settles when the PONG of the
 * first PING written after its end arrives: `ok`, or `refused` with what the
 * server said for its channel in between. The PING takes a token of the
 * flood-control bucket like any line, so one PING confirms as many posts as it
 * can: every delivery that ended before it is written shares it, and while
 * other deliveries on this connection are still writing (the outbox keeps a few
 * posts of one endpoint in flight: the next one starts when this one's lines are
 * written) and tokens are short, the PING waits for them to end too — at most
 * `deferMs` after the oldest delivery it would confirm ended. A 1,000-line burst of one-line posts
 * thus costs about one PING per window of posts, not one per post.
 *
 * Which line a refusal numeric is about, the server does not say. It is counted
 * against every delivery to that channel that had written a line when it arrived
 * (a line written later cannot be its cause): those posts are sent again. At
 * worst a line the server took is shown twice; never is a refused one counted
 * as said.
 *
 * Where the server offers IRCv3 echo-message (InspIRCd, Ergo, Solanum, UnrealIRCd)
 * no PING is needed: the server answers every PRIVMSG line with its echo, or with a
 * refusal, in order. A delivery whose every line got its answer is settled at once
 * (no extra line, so a burst keeps the full line rate); one still missing answers
 * ECHO_WAIT after its end falls back to a PING, and a line the PONG finds neither
 * echoed nor refused was dropped without a word: the delivery is lost (sent again).
 *
 * A RELAYMSG line (draft/relaymsg, relaymsg.ts) is a line like the others: its echo comes from the relayed nick
 * (`alice/mail`) with the tag `draft/relaymsg=<our nick>`, and its refusal (`FAIL RELAYMSG …`, 421) names no
 * channel: it answers our oldest RELAYMSG line still owed an answer, by the order of the lines on the wire. With
 * echo-message a refused delivery says which of its lines were echoed (`said`), so the rest can go another way.
 */
import { RELAYMSG_TAG } from './relaymsg.js';

/** Numerics that refuse a PRIVMSG to a channel, and what they mean. params: [me, channel, text]. */
export const REFUSALS: Readonly<Record<string, string>> = {
  '401': 'no such nick or channel', // ERR_NOSUCHNICK
  '403': 'no such channel', // ERR_NOSUCHCHANNEL
  '404': 'cannot send to channel', // ERR_CANNOTSENDTOCHAN: +m, +b, +n, +c …
  '408': 'colours are not allowed in the channel', // ERR_NOCOLORSONCHAN (Bahamut, Unreal)
  '442': 'not on the channel', // ERR_NOTONCHANNEL
  '477': 'the channel needs a registered nick', // ERR_NEEDREGGEDNICK / ERR_NOCHANMODES
  '482': 'channel operator privileges needed', // ERR_CHANOPRIVSNEEDED
  '489': 'the channel needs a secure connection', // ERR_SECUREONLYCHAN
  '486': 'only registered users may message', // ERR_NONONREG
};

/** A refusal the server sent for a channel. */
export interface Refusal {
  code: string;
  channel: string;
  /** The server's own words, else what the numeric means. */
  text: string;
  /** A refused RELAYMSG (`FAIL RELAYMSG …`, or the command unknown): the line may go as an ordinary PRIVMSG. */
  relay?: true;
}

export type Confirmation =
  | { ok: true }
  /**
   * `said`: with echo-message, which lines of the delivery (0 = its first) the server echoed, so were shown, before it
   * settled; absent without echo-message (a refusal's line is not known then).
   */
  | { ok: false; refused: Refusal[]; said?: number[] }
  | { ok: false; lost: string };

export interface Delivery {
  readonly channel: string;
  readonly done: Promise<Confirmation>;
  /** What settled it: the echoes of its lines, or the PONG after them. */
  readonly by?: 'echo' | 'ping';
}

interface Waiter extends Delivery {
  by?: 'echo' | 'ping';
  key: string;
  ended: boolean;
  settled: boolean;
  refused: Refusal[];
  /** echo-message: lines written, and lines the server answered (echo or refusal). */
  echo: boolean;
  lines: number;
  answered: number;
  /** Per line written: its place in the connection's order of lines, and whether it was a RELAYMSG. */
  seqs: number[];
  relays: boolean[];
  /** echo-message: the lines (0 = the first) that got their echo. */
  echoed: number[];
  /** echo-message: the answers are late, a PING is due. */
  pingDue: boolean;
  /** When end() was called (for the PING's deferral cap). */
  endedAt: number;
  settle: (c: Confirmation) => void;
}

/** With echo-message, how long after its end a delivery waits for its echoes before a PING asks. */
export const ECHO_WAIT = 3_000;

export interface ConfirmerIo {
  /** Wait for a flood-control token; rejects when the account stops. */
  take(): Promise<void>;
  /** Write one line; false when the connection is gone. */
  write(line: string): Promise<boolean>;
  /** The case-folded form of a channel name (the server's CASEMAPPING). */
  key(channel: string): string;
  /** The server echoes our messages (IRCv3 echo-message is enabled on this connection). */
  echo(): boolean;
  /** This nick is ours. */
  self(nick: string): boolean;
  /**
   * draft/relaymsg: the nick in a line's `draft/relaymsg` tag (the relay that sent it) is ours: the echo of one of our
   * RELAYMSG lines, which comes from the relayed nick (`alice/mail`). Absent: `self`.
   */
  relayedBySelf?(nick: string): boolean;
  /** The longest a PING waits for other deliveries still writing, after the first delivery it confirms ended (ms). */
  deferMs?(): number;
  /**
   * Flood-control tokens are short: a line written now would wait. Only then does a PING wait for other deliveries
   * to end (with tokens to spare a PING per post costs no line any time, and confirms each post sooner: fewer
   * unconfirmed posts to send again after a lost connection or a crash). Absent: always short.
   */
  scarce?(): boolean;
}

/** Default for ConfirmerIo.deferMs. */
export const DEFER_MAX = 5_000;

/** A line from the server as irc-framework parses it. */
export interface ServerMessage {
  command: string;
  params: readonly string[];
  /** The sender's nick (empty for a server). */
  nick?: string;
  /** IRCv3 message tags, unescaped. */
  tags?: Readonly<Record<string, string | true | undefined>>;
}

/**
 * A reply that refuses one RELAYMSG line and names no channel: `FAIL RELAYMSG <code> :text` (IRCv3 standard replies:
 * PRIVS_NEEDED, INVALID_NICK, BANNED, NOT_ENABLED …), or 421/461 about the command. undefined for anything else.
 */
export function relayRefusal(m: ServerMessage): { code: string; text: string } | undefined {
  const p = m.params;
  if (m.command === 'FAIL' && p[0]?.toUpperCase() === 'RELAYMSG')
    return { code: `FAIL RELAYMSG${p[1] ? ` ${p[1]}` : ''}`, text: p.length > 2 ? p[p.length - 1]! : 'refused' };
  if ((m.command === '421' || m.command === '461') && p[1]?.toUpperCase() === 'RELAYMSG')
    return {
      code: m.command,
      text: p[2] ?? (m.command === '421' ? 'unknown command' : 'not enough parameters'),
    };
  return undefined;
}

export class Confirmer {
  private seq = 0;
  /** Lines written on this connection (for the order of RELAYMSG refusals, which name no channel). */
  private lineSeq = 0;
  /** Begun and not yet in a PING's batch. */
  private open: Waiter[] = [];
  /** PINGs written and not answered, oldest first. */
  private readonly sent: { token: string; batch: Waiter[] }[] = [];
  private flushing = false;
  private closed: string | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Bounds a PING's wait for deliveries still writing (see flush). */
  private deferTimer: NodeJS.Timeout | undefined;

  /** `prefix` makes the tokens ours: irc-framework's own keep-alive PINGs carry other text. */
  constructor(
    private readonly io: ConfirmerIo,
    private readonly prefix = `pp${Date.now().toString(36)}.`,
  ) {}

  /** Before the first line of a delivery to `channel` is written. */
  begin(channel: string): Delivery {
    let resolve!: (c: Confirmation) => void;
    const done = new Promise<Confirmation>((r) => (resolve = r));
    const w: Waiter = {
      channel,
      key: this.io.key(channel),
      ended: false,
      endedAt: 0,
      settled: false,
      refused: [],
      echo: this.io.echo(),
      lines: 0,
      answered: 0,
      seqs: [],
      relays: [],
      echoed: [],
      pingDue: false,
      done,
      settle: (c) => {
        if (w.settled) return;
        w.settled = true;
        resolve(c);
      },
    };
    if (this.closed !== undefined) w.settle({ ok: false, lost: this.closed });
    else this.open.push(w);
    return w;
  }

  /** One PRIVMSG line of the delivery was written (`relay`: a RELAYMSG line). */
  line(d: Delivery, relay = false): void {
    const w = d as Waiter;
    w.lines += 1;
    w.seqs.push(++this.lineSeq);
    w.relays.push(relay);
  }

  private result(w: Waiter): Confirmation {
    if (w.refused.length === 0) return { ok: true };
    return w.echo ? { ok: false, refused: w.refused, said: [...w.echoed] } : { ok: false, refused: w.refused };
  }

  /** After the last line of the delivery was written: ask the server to confirm (one PING for all that ended meanwhile). */
  end(d: Delivery): Promise<Confirmation> {
    const w = d as Waiter;
    w.ended = true;
    w.endedAt = Date.now();
    if (this.closed !== undefined) return w.done;
    if (w.echo) {
      if (w.answered >= w.lines) {
        this.forget(w);
        w.by = 'echo';
        w.settle(this.result(w));
        return w.done;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (w.settled || this.closed !== undefined) return;
        w.pingDue = true;
        if (!this.flushing) void this.flush();
      }, ECHO_WAIT);
      this.timers.add(t);
      return w.done;
    }
    if (!this.flushing) void this.flush();
    return w.done;
  }

  private due(w: Waiter): boolean {
    return w.ended && !w.settled && (!w.echo || w.pingDue);
  }

  private forget(w: Waiter): void {
    const i = this.open.indexOf(w);
    if (i >= 0) this.open.splice(i, 1);
  }

  /** Leave a delivery that wrote nothing (or gave up before end()). */
  drop(d: Delivery): void {
    const i = this.open.indexOf(d as Waiter);
    if (i >= 0) this.open.splice(i, 1);
    // A PING may have waited for this one to end.
    if (!this.flushing && this.closed === undefined && this.open.some((w) => this.due(w))) void this.flush();
  }

  /** PINGs written and not yet answered. */
  get pending(): number {
    return this.sent.length;
  }

  /** A delivery on this connection has begun and not ended: its lines are still being written. */
  private writing(): boolean {
    return this.open.some((w) => !w.ended && !w.settled);
  }

  /** `force`: the deferral is over (its timer fired): write the PING even if others are still writing. */
  private async flush(force = false): Promise<void> {
    this.flushing = true;
    try {
      while (this.closed === undefined && this.open.some((w) => this.due(w))) {
        // Let the outbox start the next post of this endpoint (it does once this one is written, within this turn):
        // its lines then go before the PING, and the PING confirms them too.
        await new Promise((r) => setImmediate(r));
        if (this.closed !== undefined) return;
        if (!force && this.writing() && (this.io.scarce?.() ?? true)) {
          const oldest = Math.min(...this.open.filter((w) => this.due(w)).map((w) => w.endedAt));
          const left = oldest + (this.io.deferMs?.() ?? DEFER_MAX) - Date.now();
          if (left > 0) {
            // The last of them to end() flushes; the timer makes sure the wait is bounded.
            if (this.deferTimer) clearTimeout(this.deferTimer);
            this.deferTimer = setTimeout(() => {
              this.deferTimer = undefined;
              if (!this.flushing) void this.flush(true);
            }, left);
            return;
          }
        }
        if (this.deferTimer) {
          clearTimeout(this.deferTimer);
          this.deferTimer = undefined;
        }
        try {
          await this.io.take();
        } catch {
          this.close('stopping');
          return;
        }
        if (this.closed !== undefined) return;
        // Chosen at the instant the PING is written: every line of these is before it on the wire.
        const batch = this.open.filter((w) => this.due(w));
        this.open = this.open.filter((w) => !this.due(w) && !w.settled);
        const token = `${this.prefix}${++this.seq}`;
        this.sent.push({ token, batch });
        const ok = await this.io.write(`PING :${token}`);
        if (!ok) {
          this.close('the connection closed before the server confirmed the lines');
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * A line from the server, as parsed. Returns true when it was the answer to one of our PINGs.
   */
  onMessage(m: ServerMessage): boolean {
    const { command, params } = m;
    if (command === 'PONG') {
      const i = this.sent.findIndex((s) => params.includes(s.token));
      if (i < 0) return false;
      // Answers come in order: an older PING still unanswered cannot be (its PONG was lost?): settle it too.
      for (const s of this.sent.splice(0, i + 1)) {
        for (const w of s.batch) {
          if (!w.settled) w.by = 'ping';
          const missing = w.lines - w.answered;
          if (w.echo && missing > 0 && w.refused.length === 0) {
            w.settle({
              ok: false,
              lost: `the server neither echoed nor refused ${missing === 1 ? 'a line' : `${missing} lines`} in ${w.channel} (dropped without a word)`,
            });
          } else w.settle(this.result(w));
        }
      }
      return true;
    }
    if ((command === 'PRIVMSG' || command === 'NOTICE') && m.nick && params.length >= 1 && this.ours(m)) {
      // echo-message: our own line, back from the server (a RELAYMSG line comes back from the relayed nick).
      const w = this.answering(this.io.key(params[0]!));
      if (w) this.answered(w, true);
      return false;
    }
    const relay = relayRefusal(m);
    if (relay) {
      // It names no channel: it answers our oldest RELAYMSG line still owed an answer (the server answers in order).
      let first: Waiter | undefined;
      for (const w of this.waiting())
        if (w.echo && !w.settled && w.answered < w.lines && w.relays[w.answered])
          if (!first || w.seqs[w.answered]! < first.seqs[first.answered]!) first = w;
      if (first) {
        first.refused.push({ code: relay.code, channel: first.channel, text: relay.text, relay: true });
        this.answered(first, false);
      } else {
        // Without echo-message: every delivery that wrote a RELAYMSG line may be the one.
        for (const w of this.waiting())
          if (!w.echo && !w.settled && w.relays.includes(true))
            w.refused.push({ code: relay.code, channel: w.channel, text: relay.text, relay: true });
      }
      return false;
    }
    const meaning = REFUSALS[command];
    if (meaning === undefined || params.length < 2) return false;
    const key = this.io.key(params[1]!);
    const r: Refusal = {
      code: command,
      channel: params[1]!,
      text: params.length > 2 && params[params.length - 1] ? params[params.length - 1]! : meaning,
    };
    const echoing = this.answering(key);
    if (echoing) {
      // echo-message: the refusal is this line's answer.
      echoing.refused.push(r);
      this.answered(echoing, false);
      return false;
    }
    // Not said which line it refuses: every delivery to the channel with a line written already may be the one.
    for (const w of this.waiting()) if (w.key === key && !w.echo && w.lines > 0) w.refused.push(r);
    return false;
  }

  /** echo-message: the oldest delivery to this channel still owed an answer. */
  private answering(key: string): Waiter | undefined {
    for (const w of this.waiting()) if (w.echo && w.key === key && !w.settled && w.answered < w.lines) return w;
    return undefined;
  }

  /** The line is ours: sent by us, or by RELAYMSG from us (its tag names us). */
  private ours(m: ServerMessage): boolean {
    const by = m.tags?.[RELAYMSG_TAG];
    if (typeof by === 'string' && by !== '') return (this.io.relayedBySelf ?? this.io.self)(by);
    return this.io.self(m.nick!);
  }

  private answered(w: Waiter, echoed: boolean): void {
    if (echoed) w.echoed.push(w.answered);
    w.answered += 1;
    if (w.ended && w.answered >= w.lines && !w.settled) {
      this.forget(w);
      w.by = 'echo';
      w.settle(this.result(w));
    }
  }

  private *waiting(): Iterable<Waiter> {
    for (const s of this.sent) yield* s.batch;
    yield* this.open;
  }

  /** The connection is gone (or the account stops): nothing unconfirmed is known to have arrived. */
  close(reason: string): void {
    if (this.closed !== undefined) return;
    this.closed = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
    for (const w of [...this.waiting()]) w.settle({ ok: false, lost: reason });
    this.open = [];
    this.sent.length = 0;
  }
}

/** One line for a person: what the server refused and why. */
export function refusalText(refused: readonly Refusal[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const r of refused) {
    const s = `${r.code} ${r.text}`;
    if (seen.has(s)) continue;
    seen.add(s);
    parts.push(s);
  }
  const n = refused.length;
  return `the server refused ${n === 1 ? 'a line' : `${n} lines`} in ${refused[0]?.channel ?? 'the channel'} (${parts.join('; ')})`;
}
