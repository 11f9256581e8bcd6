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
 * server said for its channel in between. Several deliveries (of different
 * channels: one endpoint delivers one post at a time) that end before a PING is
 * written share it. The PING takes a token of the flood-control bucket like any
 * line.
 */

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
}

export type Confirmation =
  | { ok: true }
  | { ok: false; refused: Refusal[] }
  | { ok: false; lost: string };

export interface Delivery {
  readonly channel: string;
  readonly done: Promise<Confirmation>;
}

interface Waiter extends Delivery {
  key: string;
  ended: boolean;
  refused: Refusal[];
  settle: (c: Confirmation) => void;
}

export interface ConfirmerIo {
  /** Wait for a flood-control token; rejects when the account stops. */
  take(): Promise<void>;
  /** Write one line; false when the connection is gone. */
  write(line: string): Promise<boolean>;
  /** The case-folded form of a channel name (the server's CASEMAPPING). */
  key(channel: string): string;
}

export class Confirmer {
  private seq = 0;
  /** Begun and not yet in a PING's batch. */
  private open: Waiter[] = [];
  /** PINGs written and not answered, oldest first. */
  private readonly sent: { token: string; batch: Waiter[] }[] = [];
  private flushing = false;
  private closed: string | undefined;

  /** `prefix` makes the tokens ours: irc-framework's own keep-alive PINGs carry other text. */
  constructor(private readonly io: ConfirmerIo, private readonly prefix = `pp${Date.now().toString(36)}.`) {}

  /** Before the first line of a delivery to `channel` is written. */
  begin(channel: string): Delivery {
    let settle!: (c: Confirmation) => void;
    const done = new Promise<Confirmation>((r) => (settle = r));
    const w: Waiter = { channel, key: this.io.key(channel), ended: false, refused: [], done, settle };
    if (this.closed !== undefined) w.settle({ ok: false, lost: this.closed });
    else this.open.push(w);
    return w;
  }

  /** After the last line of the delivery was written: ask the server to confirm (one PING for all that ended meanwhile). */
  end(d: Delivery): Promise<Confirmation> {
    const w = d as Waiter;
    w.ended = true;
    if (!this.flushing && this.closed === undefined) void this.flush();
    return w.done;
  }

  /** Leave a delivery that wrote nothing (or gave up before end()). */
  drop(d: Delivery): void {
    const i = this.open.indexOf(d as Waiter);
    if (i >= 0) this.open.splice(i, 1);
  }

  /** PINGs written and not yet answered. */
  get pending(): number {
    return this.sent.length;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.closed === undefined && this.open.some((w) => w.ended)) {
        try {
          await this.io.take();
        } catch {
          this.close('stopping');
          return;
        }
        if (this.closed !== undefined) return;
        // Chosen at the instant the PING is written: every line of these is before it on the wire.
        const batch = this.open.filter((w) => w.ended);
        this.open = this.open.filter((w) => !w.ended);
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
   * A line from the server (command and params as parsed). Returns true when it
   * was the answer to one of our PINGs.
   */
  onMessage(command: string, params: readonly string[]): boolean {
    if (command === 'PONG') {
      const i = this.sent.findIndex((s) => params.includes(s.token));
      if (i < 0) return false;
      // Answers come in order: an older PING that is still unanswered cannot be (its PONG was lost?): settle it too.
      for (const s of this.sent.splice(0, i + 1)) for (const w of s.batch) w.settle(w.refused.length > 0 ? { ok: false, refused: w.refused } : { ok: true });
      return true;
    }
    const meaning = REFUSALS[command];
    if (meaning === undefined || params.length < 2) return false;
    const key = this.io.key(params[1]!);
    const text = params.length > 2 && params[params.length - 1] ? params[params.length - 1]! : meaning;
    for (const w of this.waiting()) if (w.key === key) w.refused.push({ code: command, channel: params[1]!, text });
    return false;
  }

  private *waiting(): Iterable<Waiter> {
    for (const s of this.sent) yield* s.batch;
    yield* this.open;
  }

  /** The connection is gone (or the account stops): nothing unconfirmed is known to have arrived. */
  close(reason: string): void {
    if (this.closed !== undefined) return;
    this.closed = reason;
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
