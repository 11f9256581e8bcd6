/**
 * The plugin API (src/plugin.ts re-exports all of it): commands a plugin adds to the `peerpost` CLI, what they see
 * of their accounts, and the exit codes.
 */
import type { IncomingPost } from '../post.js';
import type { AccountHandle, EndpointView, IngestVerdict, PluginStore, PostReader } from '../plugin.js';

/** An account of a plugin as a plugin command sees it (inside the daemon, or from the CLI against the store). */
export interface CommandAccount {
  /** "mail.lists" */
  account: string;
  /** The validated account block. */
  config: Readonly<Record<string, unknown>>;
  /** The same slice of the store as ctx.store; the plugin's migrations run in start(), so a command run offline may need to apply them itself. */
  store: PluginStore;
  posts: PostReader;
  endpoints(): EndpointView[];
  secret(purpose: string): Buffer;
  node: { hostname: string; version: string };
  /** Only inside the running daemon: what start() returned for this account. */
  handle?: AccountHandle;
  /** Only inside the running daemon. */
  ingest?: (post: IncomingPost) => Promise<IngestVerdict>;
}

export interface CommandEnv {
  /** True inside the running daemon. */
  running: boolean;
  /** The CLI's working directory: resolve file arguments against it. */
  cwd: string;
  /** --json was given. */
  json: boolean;
  /** Every account of this plugin's protocol in the config. */
  accounts: CommandAccount[];
}

/** What a command prints and its exit code (see EXIT in the README: 0 ok, 2 usage, 5 not found, 6 refused). */
export interface CommandResult {
  exit: number;
  stdout?: string;
  stderr?: string;
}

/** `peerpost NAME ...`: a command a plugin adds to the CLI. */
export interface PluginCommand {
  /** "subscribers" */
  name: string;
  /** One line for `peerpost --help`. */
  summary: string;
  /** "peerpost subscribers LIST [list|add|remove ADDR…|import FILE]" (shown by --help and on usage errors). */
  usage: string;
  /**
   * true: needs the running daemon (exit 3 with a clear message otherwise; 7 when there is not even a store).
   * false (default): runs inside the daemon when it runs, else in the CLI process against the store.
   */
  needsDaemon?: boolean;
  run(args: string[], env: CommandEnv): Promise<CommandResult>;
}

/**
 * Exit codes of the peerpost command. NO_STORE: no daemon answers and there is no store where the
 * config's node.data points (only `start` creates one), so the command changed nothing.
 */
export const EXIT = {
  OK: 0,
  CONFIG: 1,
  USAGE: 2,
  NOT_RUNNING: 3,
  FAILED: 4,
  NOT_FOUND: 5,
  REFUSED: 6,
  NO_STORE: 7,
} as const;
