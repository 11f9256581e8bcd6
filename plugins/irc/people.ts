/**
 * Who is who on one connection, by case-folded nick: the services account of
 * each nick (from extended-join and account-notify, for servers without
 * account-tag), and the nicks recognised as other relays by their real name.
 * Who is in which channel is each channel's own (channel.ts). Emptied at every
 * connect.
 */
export class People {
  private readonly accounts = new Map<string, string>();
  private readonly relays = new Set<string>();

  clear(): void {
    this.accounts.clear();
    this.relays.clear();
  }

  /** `nk` quit: its account and relay mark are forgotten. */
  quit(nk: string): void {
    this.relays.delete(nk);
    this.accounts.delete(nk);
  }

  /** `from` is now `to`: its account and relay mark follow it. */
  renamed(from: string, to: string): void {
    if (this.relays.delete(from)) this.relays.add(to);
    const acct = this.accounts.get(from);
    if (acct !== undefined) {
      this.accounts.delete(from);
      this.accounts.set(to, acct);
    }
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
