/**
 * The running accounts, in start order: started one by one, stopped in reverse, and brought to a new config on
 * reload (removed ones stopped, changed ones given their new settings in place when the plugin can, else
 * restarted, new ones started), with one line for the operator per change.
 */
import type { Logger } from 'pino';
import { sameSetting } from '../config/reload.js';
import type { AccountConfig, PeerpostConfig } from '../config/types.js';
import type { AccountRuntime } from './accounts.js';

export class AccountSet {
  private readonly byName = new Map<string, AccountRuntime>();
  /**
   * Accounts of the config that may not run in this process now (a single-holder account whose lease another
   * process holds: src/runtime/leases.ts), with their config, started by take() when the lease comes.
   */
  private readonly standby = new Map<string, AccountConfig>();

  /**
   * `make`: a new (not started) runtime for an account of the current config. `mayRun`: whether the account may run
   * in this process now (default: every account).
   */
  constructor(
    private readonly make: (cfg: AccountConfig) => AccountRuntime,
    private readonly log: Pick<Logger, 'error'>,
    private readonly mayRun: (cfg: AccountConfig) => boolean = () => true,
  ) {}

  /** Accounts waiting for their lease, by name. */
  standing(): ReadonlyMap<string, AccountConfig> {
    return this.standby;
  }

  /** Its lease came: start a standby account. False when there is none of that name. */
  async take(name: string): Promise<boolean> {
    const cfg = this.standby.get(name);
    if (!cfg) return false;
    await this.start(cfg);
    return true;
  }

  /** Its lease went: stop the account, and keep it standby. */
  async release(name: string): Promise<void> {
    const rt = this.byName.get(name);
    if (!rt) return;
    this.byName.delete(name);
    this.standby.set(name, rt.cfg);
    await rt.stop();
  }

  get(name: string): AccountRuntime | undefined {
    return this.byName.get(name);
  }

  values(): IterableIterator<AccountRuntime> {
    return this.byName.values();
  }

  get size(): number {
    return this.byName.size;
  }

  /** Start one more account; throws (AccountError) with a message for people when it cannot start. */
  async start(cfg: AccountConfig): Promise<void> {
    if (!this.mayRun(cfg)) {
      this.standby.set(cfg.name, cfg);
      return;
    }
    this.standby.delete(cfg.name);
    const rt = this.make(cfg);
    this.byName.set(cfg.name, rt);
    await rt.start();
  }

  /** Stop every account, the last started first. */
  async stopAll(): Promise<void> {
    for (const rt of [...this.byName.values()].reverse()) await rt.stop();
  }

  /** Stop the accounts the new config removes, or gives to another protocol (before the new router is made). */
  async stopRemoved(next: PeerpostConfig, changes: string[]): Promise<void> {
    for (const [name, cfg] of [...this.standby]) {
      const n = next.accounts[name];
      if (!n || n.protocol !== cfg.protocol) this.standby.delete(name);
    }
    for (const [name, rt] of [...this.byName]) {
      const n = next.accounts[name];
      if (!n || n.protocol !== rt.cfg.protocol) {
        await rt.stop();
        this.byName.delete(name);
        changes.push(`account ${name}: stopped`);
      }
    }
  }

  /** Apply changed settings (in place when the plugin's reload() says so, else by a restart) and start new accounts. */
  async apply(next: PeerpostConfig, changes: string[]): Promise<void> {
    for (const acfg of Object.values(next.accounts)) {
      const rt = this.byName.get(acfg.name);
      if (!rt && this.standby.has(acfg.name) && !this.mayRun(acfg)) {
        this.standby.set(acfg.name, acfg); // runs in the process holding its lease
        continue;
      }
      if (rt && sameSetting(rt.cfg.settings, acfg.settings)) continue;
      if (rt) {
        const how = rt.handle?.reload
          ? await rt.handle.reload(acfg.settings).catch(() => 'restart' as const)
          : 'restart';
        if (how === 'applied') {
          rt.settingsApplied(acfg);
          changes.push(`account ${acfg.name}: settings applied`);
          continue;
        }
        await rt.stop();
        this.byName.delete(acfg.name);
      }
      try {
        await this.start(acfg);
        changes.push(`account ${acfg.name}: ${rt ? 'restarted' : 'started'}`);
      } catch (err) {
        this.log.error(`${(err as Error).message}; the rest of the config is applied`);
        changes.push(`account ${acfg.name}: failed to start (${(err as Error).message})`);
      }
    }
  }

  /** Tell every running account that the bridges changed; one that fails is logged, the others still hear it. */
  bridgesChanged(): void {
    for (const rt of this.byName.values()) {
      try {
        rt.handle?.endpointsChanged?.();
      } catch (err) {
        this.log.error(
          { err, account: rt.name },
          `${rt.name} failed to take the new bridges: ${(err as Error).message}`,
        );
      }
    }
  }
}
