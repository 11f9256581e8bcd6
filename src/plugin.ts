/**
 * The plugin API: the only module of src/ that a plugin imports.
 *
 * A plugin is a module whose default export is a PluginDefinition. The core
 * loads it by protocol name from plugins/<protocol>/index.js (or from the
 * module a config names under `plugins:`), validates each account block of that
 * protocol with the plugin's schema, and calls start() once per account.
 *
 *   import { definePlugin, z, delivered, retry } from '../../src/plugin.js';
 *   export default definePlugin({
 *     protocol: 'echo', style: 'chat',
 *     account: z.strictObject({ greeting: z.string().default('hi') }),
 *     async start(ctx) {
 *       return { async deliver(post, to) { ...; return delivered(); } };
 *     },
 *   });
 */
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Post, StoredPost, IncomingPost, Attachment, Author, PostKind } from './post.js';
import type { AddressPolicy, Direction, Shape, Style } from './config/types.js';
import type { ErrorCode } from './errors.js';
import type { ArchiveFilter, ArchivePageOf, ArchivePosition } from './archive/export.js';
import type { SearchOptions, SearchPage } from './archive/search.js';
import type { ParsedQuery } from './archive/query.js';
import type { RemovalResult, RemovedListenOptions, RemovedPost, Tombstone } from './archive/removal.js';
import type { ImportItem } from './archive/import.js';
import type { DaemonMetrics, DaemonStatus, QueueWaiting } from './plugin/status.js';
import type { CommandAccount, PluginCommand } from './plugin/commands.js';

export { z };
export type { Logger, Post, StoredPost, IncomingPost, Attachment, Author, PostKind, Direction, Shape, Style };
export {
  duration,
  listenAddress,
  hostPort,
  formatAddress,
  isLoopbackHost,
  type ListenAddress,
} from './config/schema-helpers.js';
export { changedKeys, reloadPlan, sameSetting } from './config/reload.js';
export {
  announce,
  attachmentLabel,
  attachmentLines,
  attachmentsSummary,
  digestLine,
  formatSize,
  stripQuotesAndSignature,
} from './digest/shape.js';
export { bareId, idProblem, mintId } from './post.js';
export { Backoff, backoffDelay, spread, type BackoffOptions } from './delivery/backoff.js';
export { ERROR_CODES, CodedError, type ErrorCode } from './errors.js';
export { parseQuery, MAX_QUERY_OCTETS, type ParsedQuery, type SearchSort } from './archive/query.js';
export {
  escapeHtml as escapeSearchHtml,
  DEFAULT_LIMIT as SEARCH_DEFAULT_LIMIT,
  MAX_LIMIT as SEARCH_MAX_LIMIT,
} from './archive/search.js';
export type { SearchHit, SearchOptions, SearchPage } from './archive/search.js';
export { publicAddress, publicAuthor, publicPost, publicText } from './archive/privacy.js';
export {
  threadKey,
  threadTree,
  walkThread,
  type Threaded,
  type ThreadTreeNode,
  type WalkStep,
} from './archive/thread.js';
export { exportTo, dateBound, PAGE_SIZE } from './archive/export.js';
export type {
  ArchiveFilter,
  ArchivePageOf,
  ArchivePosition,
  ExportOptions,
  ExportSource,
  ExportStats,
} from './archive/export.js';
export type { RemovalCause, RemovalResult, RemovedListenOptions, RemovedPost, Tombstone } from './archive/removal.js';
export { publicRemoval } from './archive/removal.js';
export {
  MAX_HEADER_BYTES,
  cleanBody,
  headerSection,
  isRefusal,
  messagePost,
  oneLine,
  parseMessage,
  rawHeaders,
  type ParsedMessage,
  type Refusal,
} from './message/parse.js';
export type { AddressPolicy } from './config/types.js';

/**
 * The form of a target under which its spellings name one place: "#Commons" and "#commons" are one IRC channel
 * (by the server's CASEMAPPING), "Commons" and "commons" two newsgroups. Same key, same endpoint.
 */
export type TargetKey = (target: string) => string;

/** One endpoint of this account, as the current config has it. */
export interface EndpointView {
  /** "irc.libera/#commons" */
  key: string;
  target: string;
  bridge: string;
  direction: Direction;
  /** Explicit shape from the config, or undefined for the default by protocol pair. */
  shape?: Shape;
  /** The plugin's own endpoint keys, validated by its `endpoint` schema. */
  options: Readonly<Record<string, unknown>>;
  /** The bridge's description, for banners and plans. */
  description: string;
}

/** A bridge as every plugin may see it: what a finger plan or a web page shows of it. */
export interface BridgeView {
  name: string;
  description: string;
  endpoints: {
    key: string;
    account: string;
    protocol: string;
    target: string;
    direction: Direction;
    /** How a person joins it, from its plugin's joinHint(): "#commons on irc.libera.chat". */
    join?: string;
    /** Its account runs (not down or stopped). */
    running: boolean;
  }[];
  /** The bridge's archive policy: how long posts are kept (undefined: for good) and how public views show mail addresses. */
  archive: { keepMs?: number; addresses: AddressPolicy };
}

/** Where one delivery goes, with how the endpoint wants the post shaped. */
export interface DeliveryTarget {
  /** Outbox row id: stable across retries and restarts. */
  row: number;
  endpoint: string;
  target: string;
  bridge: string;
  shape: Shape;
  /** For the `announce` shape: how many body lines to show. */
  announceLines: number;
  options: Readonly<Record<string, unknown>>;
  /** 1 on the first try. */
  attempt: number;
  /**
   * For accounts with a deliveryWindow above 1: call it once every line of this post is handed to the
   * connection, in order, so the next post of this endpoint may start while this one waits for the
   * server's confirmation. Not calling it (or window 1) means one post at a time, as before.
   * Set by the outbox; absent where a delivery is made by hand (tests).
   */
  written?: () => void;
}

/**
 * Where a post is said first (AccountHandle.sayFirst): a DeliveryTarget before its outbox row exists, the first try.
 */
export type FirstTarget = Omit<DeliveryTarget, 'row' | 'attempt' | 'written'>;

export type Outcome =
  | { result: 'delivered'; nativeId?: string }
  | { result: 'retry'; reason: string; delayMs?: number }
  | { result: 'failed'; reason: string; code: ErrorCode };

/** The post reached the endpoint. nativeId (an NNTP article number, ...) is recorded in the id map. */
export const delivered = (nativeId?: string): Outcome =>
  nativeId === undefined ? { result: 'delivered' } : { result: 'delivered', nativeId };
/** Try again later: after delayMs, or by the outbox's backoff. Use ctx.resume() to retry sooner (after a reconnect). */
export const retry = (reason: string, delayMs?: number): Outcome =>
  delayMs === undefined ? { result: 'retry', reason } : { result: 'retry', reason, delayMs };
/** Never going to work: the row becomes a dead letter with this reason (for people) and code (for programs). */
export const failed = (reason: string, code: ErrorCode): Outcome => ({ result: 'failed', reason, code });

/**
 * What ingest() answers; map it onto the protocol's reply:
 * accepted / duplicate → success (SMTP 250, NNTP 240); ignored → success, not relayed (a filter matched);
 * rejected → permanent refusal (SMTP 550, NNTP 441; 437 for IHAVE); tempfail → try later (SMTP 451, NNTP 403; 436 for
 * IHAVE). A refusal's `code` says why, for programs (src/errors.ts); its `reason` is for people: never branch on it.
 */
export type IngestVerdict =
  | { status: 'accepted'; id: string; seq: number }
  | { status: 'duplicate'; id: string }
  | { status: 'ignored'; id: string; reason: string }
  | { status: 'rejected'; reason: string; code: ErrorCode }
  | { status: 'tempfail'; reason: string; code: ErrorCode };

export type AccountState =
  'starting' | 'connecting' | 'connected' | 'listening' | 'retrying' | 'down' | 'banned' | 'stopped';

/** A plugin's own slice of the store. */
export interface PluginStore {
  /** Key-value pairs private to this account; values are JSON. */
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  keys(prefix?: string): string[];
  /** The id map: this post's id on this account's protocol (article number, ...). */
  ids: {
    set(postId: string, target: string, nativeId: string): void;
    /** The post id behind a native id, if any. */
    post(target: string, nativeId: string): string | undefined;
    native(postId: string, target: string): string | undefined;
  };
  /**
   * Append-only migrations for tables of the plugin's own; every table and index
   * name must start with "<protocol>_". Applied once each, in order, at start.
   * `part` gives a separate sequence within the plugin (scope "plugin:<protocol>:<part>"),
   * so two modules of one plugin each keep their own append-only list.
   */
  migrate(migrations: readonly string[], part?: string): void;
  /** Prepared statements on the plugin's own tables (and read-only use of core tables). */
  prepare(sql: string): import('./sql.js').SqlStatement;
  transaction<T>(fn: () => T): T;
}

/** Read access to the posts in the store. */
export interface PostReader {
  get(id: string): StoredPost | undefined;
  /** Newest first; `before` is a seq cursor (exclusive). */
  latest(bridge: string, opts?: { limit?: number; before?: number }): StoredPost[];
  /** Oldest first, strictly after the seq cursor. */
  since(bridge: string, after: number, limit?: number): StoredPost[];
  count(bridge: string): number;
  /** The whole thread the post `id` belongs to (every bridge), oldest first; the root's own post first when held. */
  thread(id: string, limit?: number): StoredPost[];
  /**
   * One page of the archive for an export (events left out), oldest first by place (as the pages and threads show
   * it), after the position where the previous page ended (undefined: from the first): see exportTo.
   */
  archivePage(filter: ArchiveFilter, after: ArchivePosition | undefined, limit: number): ArchivePageOf;
  /** Full-text search of the archive (src/archive/query.ts: the language); throws CodedError 'bad-query'. */
  search(query: string | ParsedQuery, opts?: SearchOptions): SearchPage;
  /**
   * The tombstone of a removed post (`peerpost remove`, archive.keep, an accepted cancel), or undefined: a view
   * answers "gone" for it (the web 410 with the reason, the news server 430).
   */
  removed(id: string): Tombstone | undefined;
}

/**
 * How ctx.onPost takes posts. Several peerpost processes may share one PostgreSQL database (issue 17): each commits
 * the posts its own listeners and accounts take in.
 */
export interface PostListenOptions {
  /**
   * Also the posts committed by other processes on the same database, merged with this process's own: every post
   * once, in seq order (the order of the commits), a post of another process a moment after its commit (a NOTIFY
   * wakes the read; a poll every few seconds and a read after a lost connection to PostgreSQL comes back catch up
   * on what a wake-up missed). Only while someone listens so is the feed read. With one process (SQLite) the same
   * as without it. A listener that must see each post once whatever the process (a live view) wants this; one that
   * acts on a post (deliver it, number it) wants only its own process's posts, the default.
   */
  fromOtherProcesses?: boolean;
}

export interface PluginContext<C = Record<string, unknown>> {
  /** "irc.libera" */
  account: string;
  protocol: string;
  instance: string;
  /** The validated account block, frozen. */
  config: Readonly<C>;
  node: { hostname: string; version: string };
  log: Logger;
  /** Aborted when the account is being stopped (shutdown, reload, removal). */
  signal: AbortSignal;
  store: PluginStore;
  posts: PostReader;
  /** This account's endpoints in the current config (changes on reload). */
  endpoints(): EndpointView[];
  /** Hand a post to the core. Resolves only after it is committed (or refused). */
  ingest(post: IncomingPost): Promise<IngestVerdict>;
  /** Report the account's state for `peerpost status` and the web. */
  setState(state: AccountState, detail?: string): void;
  /** Retry now what waits for this account (all its endpoints, or one target). */
  resume(target?: string): void;
  /** Run at stop, in reverse order of registration; bounded by a timeout. */
  onClose(fn: () => unknown): void;
  /**
   * Listen with clear errors: "account nntp.local cannot listen on 127.0.0.1:1119:
   * the port is already in use". Closes the server at stop.
   */
  listen(server: Server, at: import('./config/schema-helpers.js').ListenAddress): Promise<AddressInfo>;
  /** delivery.timeout of the current config: a deliver() that takes longer is counted as failed and retried. */
  deliveryTimeoutMs(): number;
  /** The whole daemon's state: every account, the outbox, open digests. */
  status(): DaemonStatus;
  /** Every bridge of the current config, with each endpoint and how to join it. */
  bridges(): BridgeView[];
  /**
   * A 32-byte key for signing tokens, derived from this node's secret (made at
   * first start, kept in the store). The same purpose gives the same key in every
   * plugin, so one plugin can verify what another signed (an unsubscribe link).
   */
  secret(purpose: string): Buffer;
  /**
   * Offer a service to other plugins under its name in `Services` ("web.links", "mail.unsubscribe"). The name
   * must be among the definition's `provides`. Withdrawn when this account stops. One provider per name: a
   * second account providing it throws (say so and go on: the first one answers for every account).
   */
  provide<N extends ServiceName>(name: N, service: Services[N]): void;
  /**
   * What another running account provides under this name, or undefined (none runs now). Look it up at use
   * time, never keep it. The name must be among the definition's `uses`.
   */
  service<N extends ServiceName>(name: N): Services[N] | undefined;
  /**
   * Called after commit for every post accepted into the store (every bridge, in
   * commit order: posts from plugins, the CLI and closed digests). Returns a function
   * that stops the calls; they stop by themselves when the account stops.
   *
   * By default only the posts this process commits. With `{ fromOtherProcesses: true }` (see PostListenOptions),
   * also those that other processes on the same PostgreSQL database commit: what a view of the whole archive (the
   * web's live stream) needs.
   */
  onPost(fn: (post: StoredPost) => void, opts?: PostListenOptions): () => void;
  /**
   * Called after commit for every removal (`peerpost remove`, a bridge's archive.keep, an accepted news cancel),
   * with the posts as they were: forget them in every view and cache (a page, a plan, an article number, stored
   * attachments). Stops by itself when the account stops.
   *
   * By default only the removals this process makes (and, once for the whole node, those `peerpost remove` made with
   * no daemon to ask): what acts once (a news cancel, a row in the shared database). With
   * `{ fromOtherProcesses: true }`, also those other processes on the same PostgreSQL database make, a moment after
   * their commit (the removal log, src/archive/removal-log.ts): what a view held in this process's memory needs (the
   * web's live stream, a cache of finger plans). A removal by another process carries the post without its text
   * (no subject, an empty body): the text is kept nowhere once removed. With one process (SQLite) the same as without.
   */
  onRemoved(fn: (removed: readonly RemovedPost[]) => void, opts?: RemovedListenOptions): () => void;
  /**
   * Remove posts from the archive as `peerpost remove` does (a news account honouring a peer's cancel: cause
   * 'cancel'): tombstoned, deleted, their undelivered rows dropped, every account told.
   */
  remove(ids: readonly string[], reason: string, cause: 'removed' | 'cancel'): RemovalResult;
  /** Counters and histograms, for /metrics. */
  metrics(): DaemonMetrics;
  /** True when a small write to the store succeeds now (for a health check). */
  storeWritable(): boolean;
  /**
   * Another peerpost node (by its node.hostname) is at this target: a relay in a channel. Two nodes in one channel
   * hear the same lines; their digests then take turns at places they may share (src/digest/shown.ts).
   */
  peerNode(target: string, hostname: string): void;
  /**
   * Several processes on one PostgreSQL database (src/runtime/leases.ts): whether this process holds the account's
   * lease now. A listener account runs in every process; what it does outward that must happen once (a finger
   * follow's polling) it does only while this is true. Always true with one process (SQLite).
   */
  holdsLease?(): boolean;
}

/**
 * The services plugins offer each other, by name: one typed contract both sides compile against. A plugin
 * that provides a service adds it here by declaration merging, in a types module of its own
 * (plugins/web/services.ts), and declares it in its definition's `provides`; a plugin that calls it
 * declares it in `uses` and gets it typed from ctx.service(name):
 *
 *   declare module '../../src/plugin.js' {
 *     interface Services { 'web.links': () => WebLinks }
 *   }
 *
 * Name a service after the protocol of the plugin that provides it ("mail.unsubscribe").
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by the plugins (declaration merging)
export interface Services {}

/** The name of a service some plugin declares in `Services`. */
export type ServiceName = keyof Services & string;

/**
 * A service a plugin calls. Required (the default): `peerpost check` and the daemon refuse a config where no
 * account provides it. Optional: the account runs without a provider, and `without` says what it lacks then
 * ("list mail goes out without archive links"), for `peerpost check` and the start log.
 */
export type ServiceUse =
  { service: ServiceName; optional?: false } | { service: ServiceName; optional: true; without: string };

export interface AccountHandle {
  deliver(post: Post, to: DeliveryTarget): Promise<Outcome>;
  /**
   * How many posts of one endpoint may be in flight at once (read before every delivery, so a reload may
   * change it). 1 (the default): the next post starts after this one's outcome. Above 1: the next starts
   * once this one calls to.written(), up to this many at once; the outcomes are still applied strictly in
   * row order. When a row answers retry, the rows after it that were in flight are waited for: a retry or
   * failure of theirs is recorded as such, but one they report delivered counts as delivered, ahead of the
   * row that waits (the endpoint has it; sending it again would show it twice). Use it where a confirmation
   * costs a round trip that several posts can share (IRC: one PING after many lines).
   */
  readonly deliveryWindow?: number;
  /**
   * Say a chat line first, before its commit (optional; docs/design.md, "Said first"). The core calls it for a
   * `volatile` post (IncomingPost.volatile: its place neither waits for an acknowledgement nor can give it again)
   * that is alone in its commit, for each of its `stream` deliveries to a chat endpoint of this account whose
   * outbox holds nothing else. Synchronous: write the post's lines now only if that needs no waiting (connected, in
   * the channel, flood control has room now, nothing else queued), and answer true; else do nothing and answer
   * false. Either way the delivery follows the commit as usual (`deliver`, the same post id and target): after a
   * true it only confirms what was written (it must not say the post again), and says it again only where the
   * plugin would have said unconfirmed lines again (a lost connection). Called again for the same post and target
   * (a commit that failed and was tried again), answer true without writing anything.
   */
  sayFirst?(post: Post, to: FirstTarget): boolean;
  /**
   * Apply a changed account block without a restart. Return 'restart' (or leave
   * reload out) to have the core stop and start the account instead. The block is
   * already validated by the plugin's schema (defaults filled in, durations in ms):
   * do not parse it again.
   */
  reload?(config: Readonly<Record<string, unknown>>): Promise<'applied' | 'restart'>;
  /** The bridges changed on a reload (ctx.endpoints() now answers the new set): join, leave, re-render. */
  endpointsChanged?(): void;
  /**
   * Look at the target now and take in what is new there (an NNTP peer polls the group), resolving once it is
   * ingested. The core calls it before delivering a digest, so that a digest another peerpost node just sent to
   * the same shared place is known, and its lines are not sent there twice (src/digest/shown.ts). Optional.
   */
  refresh?(target: string): Promise<void>;
  /**
   * This account's own rule for which targets name one place, once it has learnt one from its server (IRC: the
   * CASEMAPPING of the server's ISUPPORT). Read at every lookup: keep returning the same function while the rule
   * holds (the router indexes the account's endpoints again when it changes). Default: the definition's targetKey.
   */
  readonly targetKey?: TargetKey;
}

/** What an importer hands `peerpost import`, one item at a time (src/archive/import.ts). */
export type { ImportItem };

/** A source of raw messages for `peerpost import` (PluginDefinition.importers). */
export interface Importer {
  /** The URL scheme it reads: "news" for news://host[:port]/group. */
  scheme: string;
  /** One line for `peerpost import --help`. */
  summary: string;
  /**
   * Open `url` (throw an Error whose message says what went wrong, for a person). `has(id)`: whether the archive
   * holds a post with this Message-ID already — an importer that learns ids before fetching (NNTP OVER) skips
   * those (an item of kind "held"), which makes an interrupted import cheap to run again.
   */
  open(url: URL, env: { log: Logger; has(id: string): boolean; timeoutMs?: number }): Promise<ImportSource>;
}

export interface ImportSource {
  /** The number of items it will give, when known (for the progress line); items' `done` count them. */
  total?: number;
  items: AsyncIterable<ImportItem>;
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a definition of any config type is stored in one registry
export interface PluginDefinition<C = any> {
  protocol: string;
  style: Style;
  /** One line for `peerpost check` and the docs. */
  summary?: string;
  /** Schema of an account block (use z.strictObject so unknown keys are errors). */
  account: z.ZodType<C>;
  /** Extra keys an endpoint block of this protocol may carry (z.strictObject). */
  endpoint?: z.ZodType<Record<string, unknown>>;
  /** An error message when `target` cannot be an endpoint target of this protocol. */
  validateTarget?(target: string): string | undefined;
  /**
   * Which spellings of a target name one place (see TargetKey): the router finds the endpoint a post arrives at by
   * its key, and `peerpost check` refuses two endpoints of one account with the same key. A running account may
   * refine it (AccountHandle.targetKey). Default: targets compare exactly.
   */
  targetKey?: TargetKey;
  /**
   * An error message when this endpoint, as a whole, cannot work (a direction or
   * an option that does not fit its target). Called by `peerpost check` and at
   * every load, so the mistake is reported with its line and column. `where.configDir` is the directory of the
   * config file, against which relative paths in the endpoint's options (files beside the config) resolve.
   */
  validateEndpoint?(
    endpoint: Pick<EndpointView, 'key' | 'target' | 'bridge' | 'direction' | 'shape' | 'options'>,
    where?: { configDir: string },
  ): string | undefined;
  /**
   * Why nothing that arrives through this endpoint can ever feed the bridge, whatever its direction allows, in
   * a few words ("a finger plan only shows posts"); undefined (or left out) when posts can come in through it.
   * `peerpost check` shows such an endpoint as `out only`, with this reason.
   */
  noInput?(endpoint: Pick<EndpointView, 'key' | 'target' | 'bridge' | 'options'>, config: C): string | undefined;
  /**
   * How a person joins this endpoint, in a few words, for other plugins' pages and
   * plans: "#commons on irc.libera.chat:6697", "commons@lists.example.org".
   */
  joinHint?(target: string, config: C, node: { hostname: string }): string | undefined;
  /**
   * Deliver what arrives through an endpoint of this plugin back to that same
   * endpoint too, through the outbox like every other delivery: a mailing list
   * sends a member's post to every subscriber. Off by default (an IRC channel or
   * a newsgroup already shows what was said in it).
   */
  echo?: boolean;
  /** The services of `Services` this plugin's accounts offer other plugins (ctx.provide): only these. */
  provides?: readonly ServiceName[];
  /**
   * The services this plugin's accounts call (ctx.service): only these. `peerpost check` and the daemon name a
   * required one that no account of the config provides, and note an optional one (with its `without`).
   */
  uses?: readonly ServiceUse[];
  /** Commands this plugin adds to the peerpost CLI (`peerpost subscribers …`). */
  commands?: PluginCommand[];
  /**
   * Sources `peerpost import` can read an old archive from, by URL scheme (`--nntp news://host/group` asks the
   * plugin whose importer has scheme "news"). The core finds them among the loaded plugins, never by name.
   */
  importers?: Importer[];
  /**
   * What the accounts of this plugin hold in queues of their own, outside the outbox, read from the store (so the
   * CLI can answer with the daemon stopped): the mail plugin's robot mail. The core shows it in `peerpost outbox`,
   * `peerpost status`, the web's /status and /metrics, and /healthz turns unhealthy once one waited longer than
   * delivery.alertAfter. Called often: keep it to a cheap query. Give every account an entry, even with count 0.
   */
  waiting?(accounts: CommandAccount[]): QueueWaiting[];
  /** Milliseconds start() may take before the account is reported as failed (default 15 s). */
  startTimeoutMs?: number;
  /**
   * The plugin's accounts connect out (an IRC network) and must run once: with several peerpost processes on one
   * PostgreSQL database, an account of this plugin is started only in the process holding its lease
   * (src/runtime/leases.ts), and moves to another when that one dies. Unset: accounts run in every process
   * (listeners). Either way, an endpoint's deliveries are made only by the holder of its account's lease. Asked per
   * account (a news peer connects out, the news server listens).
   */
  singleHolder?(config: C): boolean;
  start(ctx: PluginContext<C>): Promise<AccountHandle> | AccountHandle;
}

export function definePlugin<C>(def: PluginDefinition<C>): PluginDefinition<C> {
  return def;
}

/** "1 line", "3 lines": a count and its noun, for every text a person reads. */
export { plural } from './util.js';
export type {
  AccountMetrics,
  AccountStatus,
  DaemonMetrics,
  DaemonStatus,
  EndpointQueueStatus,
  Histogram,
  IngestCounts,
  OpenConversation,
  ProcessView,
  QueueWaiting,
} from './plugin/status.js';
export {
  EXIT,
  type CommandAccount,
  type CommandEnv,
  type CommandResult,
  type PluginCommand,
} from './plugin/commands.js';
