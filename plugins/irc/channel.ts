/**
 * One configured channel of an account: whether we are in it (joined, a JOIN
 * on its way, why we are out and when to try again), who else is in it, what it
 * already shows (the loop guard's memory, relay.ts), and whether the server
 * takes our lines there. A model with methods and no I/O: the connection's
 * event handlers (account.ts, presence.ts) and the delivery (deliver.ts) call
 * them; what goes on the wire is theirs. Unit-tested in test/unit/irc-channel.test.ts.
 */
import { ChannelMemory, type Said } from './relay.js';
import { secs } from './text.js';

/** The server's answers to a JOIN that keep us out of a channel (irc-framework's names for them). */
export const JOIN_REFUSALS: ReadonlySet<string> = new Set([
  'banned_from_channel',
  'invite_only_channel',
  'bad_channel_key',
  'channel_is_full',
  'too_many_channels',
  'no_such_channel',
]);

export class Channel {
  /** We are in it (our own JOIN came back). */
  joined = false;
  /** A JOIN was sent and has not been answered. */
  joining = false;
  /** Why we are not in it (ban, bad key, kick …). */
  problem: string | undefined;
  /** Do not try to join before this (ms; after a kick or a refusal). */
  notBefore = 0;
  /** The server refused our lines here (+m, +b …): shown in the status until a line gets through. */
  refused: string | undefined;
  /** Who else is in it, by case-folded nick: from NAMES, joins, parts, kicks, quits and nick changes. */
  private readonly members = new Set<string>();
  /** What it already shows (relays.remember). */
  private readonly memory: ChannelMemory;

  /**
   * @param name the configured spelling
   * @param rememberMs relays.remember
   */
  constructor(
    readonly name: string,
    rememberMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.memory = new ChannelMemory(rememberMs, now);
  }

  // ── our own place in it ───────────────────────────────────────────────────

  /** Not in it, no JOIN on its way, and no wait (after a kick or a refusal) to sit out. */
  get wantsJoin(): boolean {
    return !this.joined && !this.joining && this.now() >= this.notBefore;
  }

  /** A JOIN was sent. */
  joinSent(): void {
    this.joining = true;
  }

  /** A JOIN got no answer in time: the next sync may send another. */
  joinUnanswered(): void {
    if (this.joining && !this.joined) this.joining = false;
  }

  /** Our JOIN came back: we are in, with nobody known yet (NAMES follows). */
  joinedNow(): void {
    this.joined = true;
    this.joining = false;
    this.problem = undefined;
    this.members.clear();
  }

  /** We were kicked: the problem shown, and a rejoin after `rejoinMs`. */
  kicked(by: string, reason: string | undefined, rejoinMs: number): string {
    return this.out(
      `kicked from ${this.name} by ${by}${reason ? ` (${reason})` : ''}; rejoining in ${secs(rejoinMs)}`,
      rejoinMs,
    );
  }

  /** We left it (a PART of ours the server reported; not one for a channel no bridge names any more): rejoin at once. */
  parted(): string {
    return this.out(`left ${this.name}; rejoining`, 0);
  }

  /** The server refused our JOIN (`error` one of JOIN_REFUSALS): the problem shown, tried again after `waitMs`. */
  joinRefused(error: string, reason: string | undefined, waitMs: number): string {
    this.joining = false;
    // A ban is its own state of the channel (474): said as such in the status.
    this.problem =
      error === 'banned_from_channel'
        ? `banned from ${this.name}${reason ? ` (${reason})` : ''}; trying again every ${secs(waitMs)}`
        : `cannot join ${this.name}: ${error.replace(/_/g, ' ')}${reason ? ` (${reason})` : ''}; trying again every ${secs(waitMs)}`;
    this.notBefore = this.now() + waitMs;
    return this.problem;
  }

  /** The connection is new or gone: not in it, no JOIN on its way, nobody known. */
  disconnected(): void {
    this.joined = false;
    this.joining = false;
    this.members.clear();
  }

  private out(why: string, rejoinMs: number): string {
    this.joined = false;
    this.joining = false;
    this.problem = why;
    this.notBefore = this.now() + rejoinMs;
    this.members.clear();
    return why;
  }

  // ── our lines in it ───────────────────────────────────────────────────────

  /**
   * The server refused our lines here (`why`: refusalText). `notOn` (442, 403): we are not in it after all, so it
   * is joined again. True when this is news (the refusal differs from the one already shown).
   */
  linesRefused(why: string, notOn: boolean): boolean {
    const news = this.refused !== why;
    this.refused = why;
    if (notOn) {
      this.joined = false;
      this.joining = false;
    }
    return news;
  }

  /** A post's lines got through: true when that lifts a refusal. */
  linesTaken(): boolean {
    if (this.refused === undefined) return false;
    this.refused = undefined;
    return true;
  }

  /** For the status: why we are out of it, or why it refuses our lines; undefined when all is well. */
  get trouble(): string | undefined {
    return !this.joined ? this.problem : this.refused;
  }

  // ── who else is in it ─────────────────────────────────────────────────────

  /** NAMES (case-folded nicks): added to who is known. */
  names(nicks: Iterable<string>): void {
    for (const n of nicks) this.members.add(n);
  }

  /** Someone joined (only while we are in it: else we see nothing of it). */
  addMember(nick: string): void {
    if (this.joined) this.members.add(nick);
  }

  /** Someone left (part, kick, quit): true when they were in it. */
  removeMember(nick: string): boolean {
    return this.members.delete(nick);
  }

  /** `from` is now `to`: true when they are in it. */
  renameMember(from: string, to: string): boolean {
    if (!this.members.delete(from)) return false;
    this.members.add(to);
    return true;
  }

  hasMember(nick: string): boolean {
    return this.members.has(nick);
  }

  /** Who else is in it (case-folded nicks). */
  memberList(): string[] {
    return [...this.members];
  }

  // ── what it already shows (the loop guard) ────────────────────────────────

  setRemember(ms: number): void {
    this.memory.setWindow(ms);
  }

  /** Why it already shows this post (so it is not said again), or undefined. */
  shows(s: Said): string | undefined {
    return this.memory.shown(s);
  }

  /** We said this post here. */
  said(s: Said): void {
    this.memory.sent(s);
  }

  /** Another relay (`by`) said this line here, tagged with a post id or not. */
  relayed(by: string, line: string, id?: string): void {
    this.memory.seen(by, line, id);
  }
}
