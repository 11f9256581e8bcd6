/**
 * The environment of a plugin's command (`peerpost subscribers`, `peerpost held`) and of a plugin's waiting():
 * the accounts of one protocol as a command sees them. One implementation for the daemon (which adds each running
 * account's handle and ingest) and for the CLI (which, when no daemon runs, opens the store and runs the command
 * there). Also this node's signing secret, which both hand to commands.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { PeerpostConfig } from '../config/types.js';
import type { Logger } from 'pino';
import { EXIT } from '../plugin.js';
import type {
  AccountHandle,
  CommandAccount,
  CommandResult,
  EndpointView,
  IngestVerdict,
  PluginDefinition,
} from '../plugin.js';
import type { IncomingPost } from '../post.js';
import type { Store } from '../store.js';
import { VERSION, pluginStoreFor, postReaderFor } from './accounts.js';

/** This node's signing secret: made once, kept in the store. */
export function nodeSecret(store: Pick<Store, 'kvGet' | 'kvSet'>): Buffer {
  let s = store.kvGet<string>('core', 'secret');
  if (!s) {
    s = randomBytes(32).toString('base64');
    store.kvSet('core', 'secret', s);
  }
  return Buffer.from(s, 'base64');
}

/** A secret for one purpose (a confirmation token, an unsubscribe link), derived from the node's. */
export function secretFor(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(purpose).digest();
}

/** secretFor with the node's secret read (or made) only when first asked: listing what waits writes nothing. */
export function lazySecret(store: Pick<Store, 'kvGet' | 'kvSet'>): (purpose: string) => Buffer {
  let secret: Buffer | undefined;
  return (purpose) => secretFor((secret ??= nodeSecret(store)), purpose);
}

/** A running account, as a command inside the daemon reaches it. */
export interface LiveAccount {
  handle: AccountHandle;
  ingest: (post: IncomingPost) => Promise<IngestVerdict>;
}

export interface CommandWorld {
  config: Pick<PeerpostConfig, 'accounts' | 'node'>;
  store: Store;
  /** An account's endpoints (the running account's inside the daemon; the router's, from the config, in the CLI). */
  endpoints: (account: string) => EndpointView[];
  secret: (purpose: string) => Buffer;
  /** Inside the daemon: the account when it runs. */
  live?: (account: string) => LiveAccount | undefined;
}

/** Every account of a protocol in the config, as a plugin command (or a plugin's waiting()) sees it. */
export function commandAccounts(world: CommandWorld, protocol: string): CommandAccount[] {
  const { config, store } = world;
  return Object.values(config.accounts)
    .filter((a) => a.protocol === protocol)
    .map((a) => {
      const live = world.live?.(a.name);
      return {
        account: a.name,
        config: a.settings,
        store: pluginStoreFor(store, a.name, protocol),
        posts: postReaderFor(store),
        endpoints: () => world.endpoints(a.name),
        secret: (purpose: string) => world.secret(purpose),
        node: { hostname: config.node.hostname, version: VERSION },
        ...(live ? { handle: live.handle, ingest: live.ingest } : {}),
      };
    });
}

/** The plugin of `defs` that adds the command `name`, with the command. */
export function findCommand(
  defs: ReadonlyMap<string, PluginDefinition>,
  name: string,
): { protocol: string; command: NonNullable<PluginDefinition['commands']>[number] } | undefined {
  for (const [protocol, def] of defs) {
    const command = def.commands?.find((c) => c.name === name);
    if (command) return { protocol, command };
  }
  return undefined;
}

/** Run a plugin's command inside the daemon; one that throws is logged and answered with exit 4. */
export async function runCommand(
  defs: ReadonlyMap<string, PluginDefinition>,
  name: string,
  run: { args: string[]; cwd: string; json: boolean },
  accountsOf: (protocol: string) => CommandAccount[],
  log: Pick<Logger, 'error'>,
): Promise<CommandResult> {
  const found = findCommand(defs, name);
  if (!found) return { exit: EXIT.USAGE, stderr: `peerpost: no plugin of this config has a command "${name}"` };
  try {
    return await found.command.run(run.args, {
      running: true,
      cwd: run.cwd,
      json: run.json,
      accounts: accountsOf(found.protocol),
    });
  } catch (err) {
    log.error({ err, command: name }, `peerpost ${name} failed: ${(err as Error).message}`);
    return { exit: EXIT.FAILED, stderr: `peerpost ${name} failed: ${(err as Error).message}` };
  }
}
