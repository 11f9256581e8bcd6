/**
 * Who is where on one connection, by case-folded nick: the members of each
 * channel (quits and nick changes name no channel, so this is how the bot knows
 * where they happened), the services account of each nick (from extended-join
 * and account-notify, for servers without account-tag), and the nicks
 * recognised as other relays by their real name. Emptied at every connect.
 */
export class People {
  private readonly members = new Map<string, Set<string>>();
  private readonly accounts = new Map<string, string>();
  private readonly relays = new Set<string>();

  clear(): void {
    this.members.clear();
    this.accounts.clear();
    this.relays.clear();
  }

  /** We joined channel `ck`: its member list starts empty (NAMES fills it). */
  selfJoined(ck: string): void {
    this.members.set(ck, new Set());
  }

  /** NAMES of channel `ck`. */
  names(ck: string, nicks: Iterable<string>): void {
    const set = this.members.get(ck) ?? new Set<string>();
    for (const n of nicks) set.add(n);
    this.members.set(ck, set);
  }

  joined(ck: string, nk: string): void {
    this.members.get(ck)?.add(nk);
  }

  /** The channels `nk` is in (that we are in). */
  channelsOf(nk: string): string[] {
    return [...this.members].filter(([, set]) => set.has(nk)).map(([ck]) => ck);
  }

  /** Parted or kicked from channel `ck`. */
  left(ck: string, nk: string): void {
    this.members.get(ck)?.delete(nk);
  }

  /** `nk` quit: the channels it was in. */
  quit(nk: string): string[] {
    const where: string[] = [];
    for (const [ck, set] of this.members) if (set.delete(nk)) where.push(ck);
    this.relays.delete(nk);
    this.accounts.delete(nk);
    return where;
  }

  /** `from` is now `to`: the channels it is in. */
  renamed(from: string, to: string): string[] {
    if (this.relays.delete(from)) this.relays.add(to);
    const acct = this.accounts.get(from);
    if (acct !== undefined) {
      this.accounts.delete(from);
      this.accounts.set(to, acct);
    }
    const where: string[] = [];
    for (const [ck, set] of this.members) {
      if (!set.delete(from)) continue;
      set.add(to);
      where.push(ck);
    }
    return where;
  }

  setAccount(nk: string, account: string | undefined): void {
    if (account === undefined) this.accounts.delete(nk);
    else this.accounts.set(nk, account);
  }

  account(nk: string): string | undefined {
    return this.accounts.get(nk);
  }

  /** `nk` is another relay; true when it was not known as one. */
  markRelay(nk: string): boolean {
    if (this.relays.has(nk)) return false;
    this.relays.add(nk);
    return true;
  }

  isRelay(nk: string): boolean {
    return this.relays.has(nk);
  }
}
