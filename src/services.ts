/**
 * The services plugins offer each other (the `Services` contract of src/plugin.ts): the registry of who
 * provides what while the daemon runs, and the check of a config's uses against its provides, so a missing
 * provider is named by `peerpost check` and at start instead of showing as a broken page later.
 */
import type { PluginDefinition, ServiceName, ServiceUse, Services } from './plugin.js';

/** What the running accounts provide (ctx.provide / ctx.service); a provider is withdrawn when its account stops. */
export class ServiceRegistry {
  private readonly provided = new Map<string, { account: string; service: unknown }>();

  /** Returns the withdrawal. */
  provide<N extends ServiceName>(account: string, name: N, service: Services[N]): () => void {
    const had = this.provided.get(name);
    if (had && had.account !== account)
      throw new Error(`account ${account} cannot provide "${name}": account ${had.account} already provides it`);
    if (service === undefined || service === null)
      throw new Error(`account ${account} provides "${name}" without a service (got ${String(service)})`);
    const entry = { account, service };
    this.provided.set(name, entry);
    return () => {
      if (this.provided.get(name) === entry) this.provided.delete(name);
    };
  }

  get<N extends ServiceName>(name: N): Services[N] | undefined {
    // provide() takes only a Services[N] under the name N, so this is what was given under it.
    return this.provided.get(name)?.service as Services[N] | undefined;
  }

  /** The account providing a service now, if any. */
  providerOf(name: ServiceName): string | undefined {
    return this.provided.get(name)?.account;
  }
}

/** A use of a service as its plugin declared it: the name, and whether the account runs without it. */
export function useOf(u: ServiceUse): { service: ServiceName; optional: boolean; without?: string } {
  return u.optional
    ? { service: u.service, optional: true, without: u.without }
    : { service: u.service, optional: false };
}

/** A problem with a plugin's `provides` / `uses` lists themselves (checked when the plugin is loaded). */
export function declarationProblem(def: Pick<PluginDefinition, 'provides' | 'uses'>): string | undefined {
  const name = (n: unknown) => typeof n === 'string' && /^[a-z][a-z0-9-]*\.[A-Za-z][A-Za-z0-9_-]*$/.test(n);
  if (def.provides !== undefined) {
    if (!Array.isArray(def.provides)) return 'its provides is not a list of service names';
    const bad = def.provides.find((n) => !name(n));
    if (bad !== undefined) return `it provides "${String(bad)}", which is not a service name like "web.links"`;
  }
  if (def.uses !== undefined) {
    if (!Array.isArray(def.uses)) return 'its uses is not a list of { service, optional?, without? }';
    for (const u of def.uses as unknown[]) {
      const o = u as { service?: unknown; optional?: unknown; without?: unknown } | null;
      if (!o || typeof o !== 'object' || !name(o.service))
        return `it uses ${JSON.stringify(u)}, which is not { service: "protocol.name", … }`;
      if (o.optional === true && (typeof o.without !== 'string' || !o.without.trim()))
        return `its optional use of "${String(o.service)}" does not say what its accounts do without it (without: "…")`;
    }
  }
  return undefined;
}

/** An account whose plugin uses a service that no account of the config provides. */
export interface ServiceGap {
  account: string;
  service: ServiceName;
  optional: boolean;
  /** What the account lacks without it (an optional use). */
  without?: string;
  /** Protocols whose plugins (of the config, or shipped) provide it: "mail". */
  providers: string[];
}

/**
 * Every use of a service by an account of the config that no account provides. `candidates` are plugin
 * definitions not in the config (the shipped ones), only to name what would provide it.
 */
export function serviceGaps(
  accounts: readonly { name: string; def: Pick<PluginDefinition, 'protocol' | 'provides' | 'uses'> }[],
  candidates: readonly Pick<PluginDefinition, 'protocol' | 'provides'>[] = [],
): ServiceGap[] {
  const provided = new Set(accounts.flatMap((a) => a.def.provides ?? []));
  const gaps: ServiceGap[] = [];
  for (const a of accounts) {
    for (const raw of a.def.uses ?? []) {
      const u = useOf(raw);
      if (provided.has(u.service)) continue;
      const providers = [
        ...new Set(
          [...accounts.map((x) => x.def), ...candidates]
            .filter((d) => (d.provides ?? []).includes(u.service))
            .map((d) => d.protocol),
        ),
      ].sort();
      gaps.push({
        account: a.name,
        service: u.service,
        optional: u.optional,
        ...(u.without ? { without: u.without } : {}),
        providers,
      });
    }
  }
  return gaps;
}

/** serviceGaps(), naming the shipped plugins that would provide what is missing (loaded only when something is). */
export async function serviceGapsNamed(
  accounts: Parameters<typeof serviceGaps>[0],
  candidates: () => Promise<readonly Pick<PluginDefinition, 'protocol' | 'provides'>[]>,
): Promise<ServiceGap[]> {
  return serviceGaps(accounts).length ? serviceGaps(accounts, await candidates()) : [];
}

/**
 * What a gap means for the operator, and what to do:
 * "web.local uses 'mail.unsubscribe', which no account provides: add a mail account (…), or remove web.local".
 */
export function gapMessage(g: ServiceGap): string {
  const add = g.providers.length
    ? `add ${g.providers.map((p) => `a ${p} account`).join(' or ')}`
    : `add an account of a plugin that provides it`;
  const head = `${g.account} uses '${g.service}', which no account provides`;
  if (g.optional && !g.providers.length)
    return `${head}: ${g.without} (an account of a plugin that provides it would have it; peerpost check names which)`;
  return g.optional
    ? `${head}: ${g.without} (${add} to have it)`
    : `${head}: ${add}, or remove ${g.account} (it cannot run without it)`;
}
