/**
 * Reads peerpost.yaml into a PeerpostConfig, or into every problem it has.
 *
 * Steps: parse with `yaml` (keeping node positions), turn the node tree into
 * plain values while substituting ${ENV} in string scalars and remembering
 * where each value came from, then validate: the core keys with the schemas
 * below, each account block with its plugin's schema, each endpoint by hand.
 * Every problem becomes a ConfigError pointing at the YAML node it is about;
 * nothing here throws for bad input.
 */
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { shippedDefinitions, type PluginLookup } from '../loader.js';
import { gapMessage, serviceGaps } from '../services.js';
import type { PluginDefinition } from '../plugin.js';
import {
  ACCOUNT_NAME,
  BRIDGE_NAME,
  PROTOCOL_NAME,
  TOP_KEYS,
  topKeysSchema,
  nodeSchema,
  deliverySchema,
  pluginsSchema,
  accountsSchema,
  bridgesSchema,
  bridgeSchema,
  ENDPOINT_KEYS,
  endpointSchema,
  ENDPOINT_DEFAULTS,
  MAX_NODES,
} from './schema.js';
import type { AccountConfig, BridgeConfig, ConfigError, EndpointConfig, PeerpostConfig } from './types.js';
import {
  commentTrapFix,
  flowCommentTrap,
  formatConfigError,
  formatPath,
  showValue,
  trailingComment,
  type Path,
  type PathSeg,
} from './format.js';

import { Report, isObj, pk, type YNode } from './report.js';

export { formatConfigError };

export interface LoadOptions {
  lookup: PluginLookup;
  /** For ${NAME} substitution; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** For resolving a relative config file name; default process.cwd(). node.data is read from the config file's directory. */
  cwd?: string;
}

export type LoadResult = { ok: true; config: PeerpostConfig } | { ok: false; errors: ConfigError[] };

// ---------------------------------------------------------------------------
// Entry points

/**
 * node.data as a directory: a relative one is read from the config file's directory (not the
 * working directory), so every command run anywhere finds the store of the daemon of this config.
 */
export function dataDir(configFile: string, data: string): string {
  return resolve(dirname(configFile), data);
}

export async function loadConfigFile(file: string, opts: LoadOptions): Promise<LoadResult> {
  const abs = resolve(opts.cwd ?? process.cwd(), file);
  let source: string;
  try {
    source = await readFile(abs, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'there is no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'it is a directory, not a file'
            : e.message;
    return { ok: false, errors: [{ file, line: 0, col: 0, path: '', message: `cannot read the config file: ${why}` }] };
  }
  return parseConfig(source, file, opts);
}

export async function parseConfig(source: string, file: string, opts: LoadOptions): Promise<LoadResult> {
  try {
    return await new Run(source, file, opts).run();
  } catch (err) {
    // A bug here must still come out as an error the user can report, not a crash.
    return {
      ok: false,
      errors: [
        {
          file,
          line: 0,
          col: 0,
          path: '',
          message: `internal error while reading the config (a bug in peerpost, please report it): ${(err as Error).message ?? String(err)}`,
        },
      ],
    };
  }
}

// ---------------------------------------------------------------------------

/** What the accounts pass tells the endpoints. */
interface Accounts {
  /** undefined when some account is invalid. */
  configs: Record<string, AccountConfig> | undefined;
  /** Every well-named account in the file, valid or not (an endpoint naming a broken one is not reported twice). */
  declared: Set<string>;
  pluginOf: Map<string, PluginDefinition>;
}
/** Endpoint keys already in some bridge (normalized) -> where. */
type Claimed = Map<string, { bridge: string; line: number }>;

/** One load: the source, its positions, and the problems found so far. */
class Run {
  private doc!: Document;
  /** The problems found, where each value came from (report.ts). */
  private readonly report: Report;
  private visits = 0;
  /** The plugin of each valid account, once the accounts are read (for the comment trap's hint). */
  private pluginOf = new Map<string, PluginDefinition>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly cwd: string;

  constructor(
    private readonly source: string,
    private readonly file: string,
    private readonly opts: LoadOptions,
  ) {
    this.env = opts.env ?? process.env;
    this.cwd = opts.cwd ?? process.cwd();
    this.report = new Report(file);
  }

  async run(): Promise<LoadResult> {
    this.doc = parseDocument(this.source, { lineCounter: this.report.lc, prettyErrors: false, uniqueKeys: true });
    const at = new Set<number>();
    const traps: { error: ConfigError; trap: NonNullable<ReturnType<typeof flowCommentTrap>> }[] = [];
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      if (e.code === 'DUPLICATE_KEY') continue; // reported by toValue() with the key's name and path
      if (at.has(e.pos[0])) continue; // an unclosed bracket is reported once per enclosing collection
      at.add(e.pos[0]);
      const message =
        e.code === 'MULTIPLE_DOCS'
          ? 'a config file holds one YAML document: remove the second "---" and what follows, or merge them'
          : e.message;
      const error = this.report.at(e.pos[0], '', message);
      if (/^Flow (map|sequence)/.test(e.message)) {
        const trap = flowCommentTrap(this.source, this.report.lc.lineStarts, this.report.lc.linePos(e.pos[0]).line);
        if (trap) traps.push({ error, trap });
      }
      this.report.pending.push({
        offset: e.pos[0],
        kind: e.code === 'TAG_RESOLVE_FAILED' ? 'always' : 'syntax',
        error,
      });
    }
    this.report.locs.set(pk([]), { node: this.doc.contents });
    const raw = this.toValue(this.doc.contents, []);
    const config = await this.check(raw);
    // Named once the plugins are known: what to write depends on what the account's plugin takes as a target.
    for (const { error, trap } of traps)
      error.message += ` (line ${trap.line}: " #${trap.word}" after a space was read as a YAML comment, with the rest of the line: ${this.commentFix(trap.account, trap.word)})`;
    const errors = this.report.finish();
    if (errors.length === 0 && !config)
      errors.push(
        this.report.at(undefined, '', 'the config was not accepted, yet no error was found: this is a bug in peerpost'),
      );
    return errors.length === 0 && config ? { ok: true, config: deepFreeze(config) } : { ok: false, errors };
  }

  // -------------------------------------------------------------------------
  // YAML nodes to values

  private toValue(node: unknown, path: PathSeg[], aliasDepth = 0): unknown {
    if (++this.visits > MAX_NODES) {
      if (this.visits === MAX_NODES + 1)
        this.report.add(path, `the file expands to more than ${MAX_NODES} values (aliases?)`, { kind: 'always' });
      return null;
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = aliasDepth < 50 ? node.resolve(this.doc) : undefined;
      return target ? this.toValue(target, path, aliasDepth + 1) : null;
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string') return this.substitute(v, node.type === 'PLAIN', path);
      if (v !== null && typeof v === 'object') {
        // !!binary and the like
        const tag = (node.tag ?? 'tagged').replace('tag:yaml.org,2002:', '!!');
        this.report.add(path, `a ${tag} value has no use in a peerpost config`, { kind: 'always' });
        return null;
      }
      return v;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, unknown>();
      for (const pair of node.items) {
        const keyNode = pair.key as YNode | null;
        if (!isScalar(pair.key) || pair.key.value === null || typeof pair.key.value === 'object') {
          this.report.locs.set(pk([...path, '?']), { node: null, key: keyNode });
          this.report.add([...path, '?'], 'a key must be plain text, like name:', {
            key: true,
            kind: 'always',
            shown: path,
          });
          continue;
        }
        const k = String(pair.key.value);
        const first = seen.get(k) as YNode | undefined;
        if (first) {
          const line = first.range ? this.report.lc.linePos(first.range[0]).line : 0;
          const off = keyNode?.range?.[0];
          this.report.pending.push({
            offset: off,
            kind: 'always',
            error: this.report.at(
              off,
              formatPath(path),
              `duplicate key "${k}" (first at line ${line}): remove one, or merge them`,
            ),
          });
          continue;
        }
        seen.set(k, keyNode);
        const p = [...path, k];
        this.report.locs.set(pk(p), { node: pair.value, key: pair.key });
        // defineProperty: a key named __proto__ stays a plain key
        Object.defineProperty(out, k, {
          value: this.toValue(pair.value, p, aliasDepth),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        this.report.locs.set(pk([...path, i]), { node: item });
        return this.toValue(item, [...path, i], aliasDepth);
      });
    }
    return null;
  }

  /**
   * ${NAME}, ${NAME:-default} (when unset or empty), $${ for a literal ${.
   * A plain (unquoted) scalar is then read as YAML would read the result, so
   * `port: ${PORT}` is a number; quote it to keep text.
   */
  private substitute(s: string, plain: boolean, path: Path): unknown {
    if (!s.includes('${')) return s;
    let used = false;
    const out = s.replace(/\$\$\{|\$\{([^}]*)\}|\$\{/g, (m, inner: string | undefined) => {
      if (m === '$${') return '${';
      used = true;
      const ref = inner === undefined ? undefined : /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(inner);
      if (!ref) {
        this.report.poisoned.add(pk(path));
        this.report.add(path, `${JSON.stringify(m === '${' ? s : m)} is not a valid substitution`, {
          kind: 'always',
          expected: '${NAME} or ${NAME:-default}; write $${ for a literal ${',
        });
        return '';
      }
      const [, name, def] = ref;
      const v = this.env[name!];
      if (def !== undefined && (v === undefined || v === '')) return def;
      if (v === undefined) {
        this.report.poisoned.add(pk(path));
        this.report.add(
          path,
          `environment variable ${name} is not set (used in ${formatPath(path)}): set it in peerpost's environment (export ${name}=…; under systemd, Environment=${name}=… in a drop-in)`,
          {
            kind: 'always',
            shown: [],
          },
        );
        return '';
      }
      return v;
    });
    if (!used) return out;
    this.report.fromEnv.set(pk(path), s);
    if (plain && out.trim() !== '') {
      const d = parseDocument(out);
      const v = isScalar(d.contents) ? d.contents.value : undefined;
      if (d.errors.length === 0 && (typeof v === 'number' || typeof v === 'boolean' || v === null)) return v;
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Validation

  private async check(raw: unknown): Promise<PeerpostConfig | undefined> {
    const top = raw ?? {}; // an empty file (or only comments) is all defaults
    if (!isObj(top)) {
      this.report.add([], `the file must be a mapping of keys (${TOP_KEYS.join(', ')}), got ${showValue(top)}`);
      return undefined;
    }
    await this.report.validate(topKeysSchema, top, []);
    const node = await this.report.validate(nodeSchema, top.node, ['node']);
    const delivery = await this.report.validate(deliverySchema, top.delivery, ['delivery']);
    const plugins = await this.plugins(top.plugins);
    const accounts = await this.accounts(top.accounts, plugins);
    const bridges = await this.bridges(top.bridges, accounts);
    if (accounts?.configs) await this.services(accounts);

    if (node && node.failover < 1000)
      this.report.add(['node', 'failover'], 'must be at least 1s (a lease is renewed three times within it)');
    if (delivery) {
      const d = delivery;
      if (d.retry.first <= 0) this.report.add(['delivery', 'retry', 'first'], 'must be longer than 0');
      if (d.timeout <= 0) this.report.add(['delivery', 'timeout'], 'must be longer than 0');
      if (d.alertAfter <= 0) this.report.add(['delivery', 'alertAfter'], 'must be longer than 0');
      if (d.retry.max < d.retry.first)
        this.report.add(['delivery', 'retry', 'max'], 'must not be shorter than delivery.retry.first');
    }
    if (!node || !delivery || !plugins || !accounts?.configs || !bridges) return undefined;
    return {
      file: resolve(this.cwd, this.file),
      node: {
        hostname: node.hostname ?? osHostname(),
        data: dataDir(resolve(this.cwd, this.file), node.data),
        maxHops: node.maxHops,
        durability: node.durability,
        ...(node.database ? { database: node.database, failoverMs: node.failover } : {}),
      },
      delivery: {
        retryFirstMs: delivery.retry.first,
        retryMaxMs: delivery.retry.max,
        giveUpAfterMs: delivery.giveUpAfter,
        timeoutMs: delivery.timeout,
        shutdownGraceMs: delivery.shutdownGrace,
        alertAfterMs: delivery.alertAfter,
      },
      plugins,
      accounts: accounts.configs,
      bridges,
    };
  }

  /** protocol -> module; paths are resolved against the config file's directory. */
  private async plugins(raw: unknown): Promise<Record<string, string> | undefined> {
    const map = await this.report.validate(pluginsSchema, raw, ['plugins']);
    if (!map) return undefined;
    const base = dirname(resolve(this.cwd, this.file));
    const out: Record<string, string> = {};
    for (const [protocol, spec] of Object.entries(map)) {
      if (!PROTOCOL_NAME.test(protocol)) {
        this.report.add(['plugins', protocol], `"${protocol}" is not a protocol name`, {
          key: true,
          expected: 'lowercase letters, digits and hyphens, starting with a letter',
        });
      }
      out[protocol] = spec.startsWith('.') || isAbsolute(spec) ? resolve(base, spec) : spec;
    }
    return out;
  }

  private async accounts(raw: unknown, modules: Record<string, string> | undefined): Promise<Accounts | undefined> {
    const map = await this.report.validate(accountsSchema, raw, ['accounts']);
    if (!map) return undefined;
    const configs: Record<string, AccountConfig> = {};
    const declared = new Set(Object.keys(map).filter((n) => ACCOUNT_NAME.test(n)));
    const pluginOf = new Map<string, PluginDefinition>();
    const lookups = new Map<string, Promise<PluginDefinition | string>>();
    let ok = true;
    for (const [name, blk] of Object.entries(map)) {
      const path = ['accounts', name];
      if (!ACCOUNT_NAME.test(name)) {
        this.report.add(path, `account name "${name}" is not protocol.instance`, {
          key: true,
          expected: 'e.g. irc.libera or nntp.local: a lowercase protocol, a dot, then letters, digits, "_" or "-"',
        });
        ok = false;
        continue;
      }
      const protocol = name.slice(0, name.indexOf('.'));
      if (!lookups.has(protocol)) lookups.set(protocol, this.lookup(protocol, modules?.[protocol]));
      const plugin = await lookups.get(protocol)!;
      if (typeof plugin === 'string') {
        this.report.add(path, plugin, { key: true });
        ok = false;
        continue;
      }
      pluginOf.set(name, plugin);
      const settings = await this.report.validatePlugin(plugin.account, blk ?? {}, path);
      if (settings === undefined) {
        ok = false;
        continue;
      }
      configs[name] = {
        name,
        protocol,
        instance: name.slice(protocol.length + 1),
        settings: deepFreeze(settings as Record<string, unknown>),
      };
    }
    this.pluginOf = pluginOf;
    return { configs: ok ? configs : undefined, declared, pluginOf };
  }

  /** An account whose plugin requires a service that no account provides cannot run: say which, and what provides it. */
  private async services(accounts: Accounts): Promise<void> {
    const list = [...accounts.pluginOf].map(([name, def]) => ({ name, def }));
    if (!serviceGaps(list).some((g) => !g.optional)) return;
    for (const g of serviceGaps(list, await shippedDefinitions(this.opts.lookup)))
      if (!g.optional) this.report.add(['accounts', g.account], gapMessage(g), { key: true });
  }

  private async lookup(protocol: string, module: string | undefined): Promise<PluginDefinition | string> {
    try {
      return await this.opts.lookup(protocol, module);
    } catch (err) {
      return `the plugin for "${protocol}" could not be loaded: ${(err as Error).message}`;
    }
  }

  private async bridges(
    raw: unknown,
    accounts: Accounts | undefined,
  ): Promise<Record<string, BridgeConfig> | undefined> {
    const map = await this.report.validate(bridgesSchema, raw, ['bridges']);
    if (!map) return undefined;
    const out: Record<string, BridgeConfig> = {};
    const claimed: Claimed = new Map();
    let ok = true;
    for (const [name, blk] of Object.entries(map)) {
      const path = ['bridges', name];
      if (!BRIDGE_NAME.test(name)) {
        this.report.add(
          path,
          `bridge name "${name}" may hold only letters, digits, ".", "_" and "-", and must start with a letter or digit`,
          { key: true },
        );
        ok = false;
      }
      if (blk !== null && !isObj(blk)) {
        this.report.add(path, `expected a mapping with endpoints:, got ${showValue(blk)}`);
        ok = false;
        continue;
      }
      const b = blk ?? {};
      const core = await this.report.validate(bridgeSchema, b, path);
      const endpoints = await this.endpoints(name, b.endpoints, accounts, claimed);
      if (!core || !endpoints) {
        ok = false;
        continue;
      }
      out[name] = {
        name,
        description: core.description,
        endpoints,
        ignore: { nicks: core.ignore.nicks.map((n) => n.toLowerCase()), patterns: core.ignore.patterns },
        replace: core.replace,
        digest: {
          quietMs: core.digest.quiet,
          maxLines: core.digest.maxLines,
          maxAgeMs: core.digest.maxAge,
          settleMs: core.digest.settle,
        },
        archive: {
          ...(core.archive.keep !== 'forever' ? { keepMs: core.archive.keep } : {}),
          addresses: core.archive.addresses,
        },
      };
    }
    return ok ? out : undefined;
  }

  private async endpoints(
    bridge: string,
    raw: unknown,
    accounts: Accounts | undefined,
    claimed: Claimed,
  ): Promise<EndpointConfig[] | undefined> {
    const path = ['bridges', bridge, 'endpoints'];
    const example = 'a list of account/target, e.g. - irc.libera/#commons';
    if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) {
      this.report.add(raw === undefined ? path.slice(0, -1) : path, `bridge "${bridge}" has no endpoints`, {
        expected: `endpoints: ${example}`,
      });
      return undefined;
    }
    if (!Array.isArray(raw)) {
      this.report.add(path, `expected ${example}, got ${showValue(raw)}`);
      return undefined;
    }
    const out: EndpointConfig[] = [];
    let ok = true;
    for (let i = 0; i < raw.length; i++) {
      const ep = await this.endpoint(bridge, raw[i], [...path, i], accounts, claimed);
      if (ep) out.push(ep);
      else ok = false;
    }
    return ok ? out : undefined;
  }

  private async endpoint(
    bridge: string,
    item: unknown,
    path: PathSeg[],
    accounts: Accounts | undefined,
    claimed: Claimed,
  ): Promise<EndpointConfig | undefined> {
    // The two forms: "account/target", or a mapping with endpoint: and more keys.
    let spec: unknown;
    let specPath: PathSeg[];
    let core: typeof ENDPOINT_DEFAULTS | undefined = ENDPOINT_DEFAULTS;
    let extra: Record<string, unknown> = {};
    if (typeof item === 'string') {
      spec = item;
      specPath = path;
    } else if (isObj(item)) {
      spec = item.endpoint;
      specPath = [...path, 'endpoint'];
      const corePart = Object.fromEntries(Object.entries(item).filter(([k]) => ENDPOINT_KEYS.includes(k)));
      extra = Object.fromEntries(Object.entries(item).filter(([k]) => !ENDPOINT_KEYS.includes(k)));
      core = await this.report.validate(endpointSchema, corePart, path);
    } else {
      this.report.add(
        path,
        `expected "account/target" or a mapping with endpoint: account/target, got ${showValue(item)}`,
      );
      return undefined;
    }
    if (typeof spec !== 'string') return undefined; // reported by the schema above

    const target = this.splitEndpoint(spec, specPath, accounts);
    if (!target) return undefined;
    const { account, protocol, plugin } = target;

    // Keys beyond the core ones belong to the plugin's endpoint schema.
    let options: Record<string, unknown> | undefined = {};
    if (plugin?.endpoint) {
      options = await this.report.validatePlugin(plugin.endpoint, extra, path, ENDPOINT_KEYS);
    } else if (plugin && Object.keys(extra).length) {
      this.report.unknownKeys(
        Object.keys(extra),
        path,
        ENDPOINT_KEYS,
        `one of ${ENDPOINT_KEYS.join(', ')}; the ${protocol} plugin takes no endpoint keys of its own`,
      );
      options = undefined;
    }

    // One endpoint, one bridge: a second claim would leak posts across bridges (or double them).
    const key = `${account}/${target.target}`;
    // Two spellings of one place (IRC: "#Commons" and "#COMMONS") are one endpoint: the plugin's targetKey says.
    let norm: string;
    try {
      norm = `${account}/${plugin?.targetKey ? plugin.targetKey(target.target) : target.target}`;
    } catch (err) {
      this.report.add(specPath, `the ${protocol} plugin could not read the target: ${(err as Error).message}`);
      return undefined;
    }
    const first = claimed.get(norm);
    const offset = this.report.spanOf(specPath)?.[0];
    const line = offset === undefined ? 0 : this.report.lc.linePos(offset).line;
    if (first) {
      this.report.add(
        specPath,
        first.bridge === bridge
          ? `endpoint "${key}" is listed twice in this bridge (first at line ${first.line})`
          : `endpoint "${key}" is already in bridge "${first.bridge}" (line ${first.line}): an endpoint can be in one bridge only, or posts would leak across bridges`,
      );
      return undefined;
    }
    claimed.set(norm, { bridge, line });
    if (!core || !options || !plugin) return undefined;
    const endpoint: EndpointConfig = {
      key,
      account,
      protocol,
      target: target.target,
      bridge,
      direction: core.direction,
      ...(core.shape ? { shape: core.shape } : {}),
      prefix: core.prefix,
      announceLines: core.announceLines,
      options: deepFreeze(options),
    };
    let problem: string | undefined;
    try {
      problem = plugin.validateEndpoint?.(endpoint, { configDir: dirname(resolve(this.cwd, this.file)) });
    } catch (err) {
      problem = `the ${protocol} plugin could not check the endpoint: ${(err as Error).message}`;
    }
    if (problem) {
      this.report.add(path, problem);
      return undefined;
    }
    return endpoint;
  }

  /** "write irc.libera/#commons", "write nntp.local/peerpost.commons": what the account's plugin accepts. */
  private commentFix(account: string, word: string): string {
    const plugin = this.pluginOf.get(account);
    return commentTrapFix(
      account,
      word,
      plugin && { style: plugin.style, problem: plugin.validateTarget?.bind(plugin) },
    );
  }

  /** "account/target" split at the first "/", checked against the accounts and the plugin. */
  private splitEndpoint(spec: string, path: Path, accounts: Accounts | undefined) {
    const slash = spec.indexOf('/');
    const account = slash < 0 ? spec : spec.slice(0, slash);
    const target = slash < 0 ? '' : spec.slice(slash + 1);
    const plugin = accounts?.pluginOf.get(account);
    if (account === '') {
      this.report.add(path, `endpoint "${spec}" has no account: write account/target, e.g. irc.libera/#commons`);
      return undefined;
    }
    if (target === '') {
      const eg = plugin ? `${account}/${plugin.style === 'chat' ? '#commons' : 'commons'}` : 'irc.libera/#commons';
      let msg = `endpoint "${spec}" has no target: write account/target, e.g. ${eg}`;
      // THE COMMENT TRAP: `- irc.libera #commons` is "irc.libera" and a YAML comment.
      const node = this.report.locs.get(pk(path))?.node;
      const comment = isScalar(node) && node.range ? trailingComment(this.source, node.range[1]) : undefined;
      if (comment)
        msg += ` (" #${comment}" after a space was read as a YAML comment: ${this.commentFix(account, comment)})`;
      this.report.add(path, msg);
      return undefined;
    }
    if (accounts && !accounts.declared.has(account)) {
      const names = [...accounts.declared];
      this.report.add(
        path,
        `endpoint "${spec}": no account "${account}" (${names.length ? `accounts: ${names.join(', ')}` : 'no accounts are configured'})`,
      );
      return undefined;
    }
    let problem: string | undefined;
    try {
      problem = plugin?.validateTarget?.(target);
    } catch (err) {
      problem = `the ${plugin?.protocol} plugin could not check the target: ${(err as Error).message}`;
    }
    if (problem) {
      this.report.add(path, `endpoint "${spec}": ${problem}`);
      return undefined;
    }
    return { account, protocol: account.slice(0, account.indexOf('.')), target, plugin };
  }
}

/** Freeze plain objects and arrays, deeply. RegExps stay unfrozen: exec() writes lastIndex. */
function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v;
  const proto = Object.getPrototypeOf(v);
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return v;
  Object.freeze(v);
  for (const x of Object.values(v)) deepFreeze(x);
  return v;
}
