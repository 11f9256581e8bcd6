/**
 * The validated, resolved configuration the core runs on. The YAML file is
 * parsed and checked by ./load.ts into this shape; every duration is in
 * milliseconds, every path absolute, every regular expression compiled.
 */
export type Direction = 'in' | 'out' | 'inout';
export const DIRECTIONS: readonly Direction[] = ['in', 'out', 'inout'];

/**
 * How an endpoint receives posts (docs/design.md, "Chat meets mail"):
 * - stream:   every post as it comes
 * - digest:   lines from chat gathered into one article per conversation
 * - command:  only chat lines that start with the endpoint's prefix
 * - announce: articles (mail/news) shown as a short announcement
 */
export type Shape = 'stream' | 'digest' | 'command' | 'announce';
export const SHAPES: readonly Shape[] = ['stream', 'digest', 'command', 'announce'];

/**
 * How a protocol renders a conversation, declared by its plugin:
 * chat (IRC: lines), article (mail, news: subjects and bodies),
 * plan (finger: the newest posts), feed (web: everything, live).
 */
export type Style = 'chat' | 'article' | 'plan' | 'feed';
export const STYLES: readonly Style[] = ['chat', 'article', 'plan', 'feed'];

export interface EndpointConfig {
  /** "account/target", e.g. "irc.libera/#commons". */
  key: string;
  account: string;
  protocol: string;
  target: string;
  bridge: string;
  direction: Direction;
  /** Set explicitly in the config; undefined means "the default for the protocol pair". */
  shape?: Shape;
  /** Prefix of the lines taken by the `command` shape. */
  prefix: string;
  /** Lines of the body shown by the `announce` shape. */
  announceLines: number;
  /** Keys of the endpoint block that belong to the endpoint's plugin, validated by its schema. */
  options: Readonly<Record<string, unknown>>;
}

export interface BridgeConfig {
  name: string;
  description: string;
  endpoints: EndpointConfig[];
  ignore: { nicks: string[]; patterns: RegExp[] };
  replace: { pattern: RegExp; with: string }[];
  /** settleMs: where other peerpost nodes write digests to the same place, each waits its turn this long (src/digest/shown.ts). */
  digest: { quietMs: number; maxLines: number; maxAgeMs: number; settleMs: number };
  /** The archive: keepMs undefined keeps posts for good; addresses: how public views show mail addresses (src/archive/privacy.ts). */
  archive: { keepMs?: number; addresses: AddressPolicy };
}

/** hide: no address at all; obfuscate: alice@…ample.org; show: as written. */
export type AddressPolicy = 'hide' | 'obfuscate' | 'show';
export const ADDRESS_POLICIES: readonly AddressPolicy[] = ['hide', 'obfuscate', 'show'];

export interface NodeConfig {
  hostname: string;
  /** Absolute path of the data directory (SQLite store, control socket). */
  data: string;
  maxHops: number;
  /** 'process': survives a crash of peerpost (SQLite synchronous=NORMAL); 'power': survives power loss (FULL). */
  durability: 'process' | 'power';
  /** PostgreSQL's URL when the store is there (issue 17; src/store/open.ts); else the SQLite file in data. */
  database?: string;
  /** node.failover in ms (default 15 s): a lease not renewed for this long goes to another process (PostgreSQL only). */
  failoverMs?: number;
}

export interface DeliveryConfig {
  retryFirstMs: number;
  retryMaxMs: number;
  giveUpAfterMs: number;
  timeoutMs: number;
  shutdownGraceMs: number;
  /** A delivery or robot mail waiting longer than this makes /healthz unhealthy (and is named in status). */
  alertAfterMs: number;
}

export interface AccountConfig {
  /** "irc.libera" */
  name: string;
  protocol: string;
  instance: string;
  /** The account block as validated (and defaulted) by its plugin's schema, frozen. */
  settings: Readonly<Record<string, unknown>>;
}

export interface PeerpostConfig {
  /** Absolute path of the file it came from ("<default>" for none). */
  file: string;
  node: NodeConfig;
  delivery: DeliveryConfig;
  /** protocol -> module specifier (absolute path or package name) for plugins not shipped in plugins/. */
  plugins: Readonly<Record<string, string>>;
  accounts: Readonly<Record<string, AccountConfig>>;
  bridges: Readonly<Record<string, BridgeConfig>>;
}

/** One problem in a config file, located where a user can find it. */
export interface ConfigError {
  file: string;
  /** 1-based; 0 when no position is known. */
  line: number;
  col: number;
  /** "accounts.irc.libera.port" */
  path: string;
  /** What is wrong. */
  message: string;
  /** What was expected, when that helps. */
  expected?: string;
}
