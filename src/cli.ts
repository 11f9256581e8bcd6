/**
 * The peerpost command: start, check, post, outbox, status.
 * Output is for people; --json where a program wants to read it.
 */
import { storeLabel } from './store/open.js';
import { loadConfigFile } from './config/load.js';
import { findConfig } from './config/find.js';
import type { PeerpostConfig } from './config/types.js';
import { lookupPlugin } from './loader.js';
import { Daemon, EXIT } from './runtime/daemon.js';
import { daemonRunning } from './runtime/v8-flags.js';
import { pluginsFor, stylesOf, routerFor, serviceGapsOf } from './runtime/plugins.js';
import { commandAccounts, findCommand, lazySecret } from './runtime/commands.js';
import { endpointViews } from './runtime/views.js';
import { waitingFailed, waitingOutside } from './runtime/status.js';
import { outboxAction, type OutboxAnswer, type OutboxRequest } from './runtime/requests.js';
import { createLogger, LEVELS } from './log.js';
import type { EndpointConfig } from './config/types.js';
import { endpointRole, roleWords } from './roles.js';
import { ask, type ControlRequest } from './runtime/control.js';
import { type Store, type OutboxRow } from './store.js';
import { Router } from './ingest/router.js';
import { ingestPipeline } from './ingest/pipeline.js';
import { VERSION } from './runtime/accounts.js';
import { processesOf, type LeaseDb } from './runtime/leases.js';
import { formatDuration, plural } from './util.js';
import { gapMessage } from './services.js';
import type {
  IngestVerdict,
  DaemonStatus,
  PluginCommand,
  CommandAccount,
  CommandResult,
  PluginDefinition,
  QueueWaiting,
  OpenConversation,
} from './plugin.js';
import { conversationLine, waitingLine } from './runtime/waiting.js';
import {
  parse,
  out,
  err,
  hasStore,
  announce,
  loadOrReport,
  NoStoreHere,
  openStore,
  UsageError,
  reportFailure,
} from './cli/common.js';
import { COMMAND_LOADERS, loadCommand, loadCommands } from './cli/index.js';
import { shapeFor } from './ingest/router.js';

const HELP: Record<string, string> = {
  main: `peerpost ${VERSION}: bridge IRC, Usenet, mailing lists, finger and the web.

Usage: peerpost <command> [options]

Commands:
  start     run the daemon
  check     validate the config and show each bridge
  post      put a post into a bridge
  outbox    see and act on pending and failed deliveries
  status    show each account's state, the outbox and uptime

Every command takes -c FILE (default: $PEERPOST_CONFIG, else /etc/peerpost/peerpost.yaml
when it exists, else the config shipped with peerpost), --verbose and --help. In a
terminal, or with --verbose, the first line (on standard error) names the config and
the store used. A relative node.data is read from the config file's directory.

Exit codes:
  0  success
  1  the config has errors (each printed as FILE:LINE:COL  key: problem)
  2  the command line is wrong
  3  peerpost is not running (status)
  4  the daemon could not start, or failed (store, listener, plugin)
  5  no such bridge or outbox row
  6  the post was refused (the reason is printed)
  7  no store where the config points (only start creates one); nothing was changed
`,
  start: `Usage: peerpost start [-c FILE] [--log-level LEVEL] [--pretty | --json-logs]

Run the daemon in the foreground. Logs go to standard output: readable on a
terminal, JSON lines otherwise (--pretty / --json-logs to choose).
LEVEL: fatal, error, warn, info (default), debug, trace, silent.
SIGTERM or SIGINT: stop accepting, finish deliveries in flight (delivery.shutdownGrace),
close every account, exit 0. A second signal stops at once. SIGHUP: reload the config;
an invalid new config is refused with its errors and the running one stays.
`,
  check: `Usage: peerpost check [-c FILE] [--json]

Validate the config and print each bridge with its endpoints, directions and
shapes, then a note for each optional service of a plugin that no account
provides (what that account does without it). On errors (a required service
without a provider among them), print every one as
FILE:LINE:COL  path.to.key: problem, exit 1.
`,
  post: `Usage: peerpost post -b BRIDGE [--from NAME] [--subject S] [TEXT | -]

Put a post into a bridge: TEXT, or standard input with "-" (or when TEXT is left out).
Through the running daemon when one runs; otherwise straight into its store
(exit 7 when there is none: only start creates it), delivered when peerpost
next starts. Prints the post's Message-ID.
`,
  outbox: `Usage: peerpost outbox [-c FILE] [--bridge B] [--dead] [--json]
       peerpost outbox --retry ROW | --all [--bridge B]
       peerpost outbox --drop ROW

List pending deliveries (or, with --dead, the failed ones) with the reason of
each failure; then what waits outside the outbox: robot mail for the smarthost,
and lines waiting for their conversation to close into a digest (with when it
closes at the latest). --json: { rows, waiting, conversations }. --retry ROW puts one row back in line to be tried now; --all does
so for every dead row (of one bridge with --bridge). --drop ROW deletes a row:
that post will never reach that endpoint.
`,
  status: `Usage: peerpost status [-c FILE] [--json]

Show each account's state (connected, listening, retrying since, last error),
the outbox depth per endpoint, robot mail waiting, open conversations, what has
waited longer than delivery.alertAfter, and uptime. Exit 3 when peerpost is not running,
7 when there is not even a store where the config points (the wrong config?).
`,
};

async function cmdStart(args: string[]): Promise<number> {
  const { values } = parse(args, {
    'log-level': { type: 'string' },
    pretty: { type: 'boolean' },
    'json-logs': { type: 'boolean' },
  });
  if (values.help) return help('start');
  const level = values['log-level'] ?? process.env.PEERPOST_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level as never)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  const log = createLogger({
    level,
    ...(values.pretty ? { pretty: true } : values['json-logs'] ? { pretty: false } : {}),
  });
  const found = findConfig({ given: values.config });
  if (values.verbose || process.stdout.isTTY) {
    const r = await loadConfigFile(found.file, { lookup: lookupPlugin });
    announce(found, r.ok ? r.config : undefined, true); // the daemon reports a config's errors itself
  }
  const daemon = new Daemon({ configFile: found.file, log });
  const code = await daemon.start();
  if (code !== EXIT.OK) return code;
  daemonRunning(); // TurboFan, off while it started, is back for what gets hot (src/runtime/v8-flags.ts)
  return daemon.done;
}

async function cmdCheck(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  if (values.help) return help('check');
  const found = findConfig({ given: values.config });
  const file = found.file;
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const defs = await pluginsFor(config);
  const role = (e: EndpointConfig) => endpointRole(e, defs.get(e.protocol), config.accounts[e.account]);
  const styles = stylesOf(config, defs);
  const bridges = Object.values(config.bridges);
  // Optional services no account provides (a required one is a config error already): what each account lacks.
  const notes = await serviceGapsOf(config, defs);
  if (values.json) {
    out(
      JSON.stringify(
        {
          file,
          node: config.node,
          accounts: Object.keys(config.accounts),
          bridges: bridges.map((b) => ({
            name: b.name,
            endpoints: b.endpoints.map((e) => {
              const r = role(e);
              return {
                endpoint: e.key,
                direction: e.direction,
                shape: e.shape ?? null,
                feeds: r.feeds,
                receives: r.receives,
                ...(r.why ? { why: r.why } : {}),
              };
            }),
          })),
          services: notes.map((g) => ({ ...g, message: gapMessage(g) })),
        },
        null,
        2,
      ),
    );
    return EXIT.OK;
  }
  out(`${file}: OK`);
  out(
    `node ${config.node.hostname}, ${config.node.database ? `store ${storeLabel(config.node)}, control socket in ${config.node.data}` : `data in ${config.node.data}${hasStore(config.node.data) ? '' : ' (no store there yet: peerpost start creates it)'}`}, ${plural(Object.keys(config.accounts).length, 'account')}, ${plural(bridges.length, 'bridge')}`,
  );
  for (const a of Object.values(config.accounts)) out(`  account ${a.name} (${a.protocol}, ${styles.get(a.name)})`);
  for (const b of bridges) {
    out(`\nbridge ${b.name}${b.description ? `: ${b.description}` : ''}`);
    for (const e of b.endpoints) {
      const style = styles.get(e.account)!;
      const r = role(e);
      const recv = !r.receives
        ? ''
        : `  receives chat as ${shapeFor('chat', style, e.shape)}, articles as ${shapeFor('article', style, e.shape)}${e.shape === 'command' ? ` (lines starting with ${e.prefix})` : ''}`;
      out(`  ${roleWords(r)}  ${e.key}${recv}${r.why ? `  (${r.why})` : ''}`);
    }
  }
  if (bridges.length === 0) out('\nno bridges yet: add one under bridges: (see README.md)');
  if (notes.length) out('');
  for (const g of notes) out(`note: ${gapMessage(g)}`);
  return EXIT.OK;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function explainVerdict(v: IngestVerdict, bridge: string, offline: boolean): number {
  switch (v.status) {
    case 'accepted':
      out(
        offline
          ? `stored <${v.id}> in bridge ${bridge}; peerpost is not running, so it is delivered when peerpost next starts`
          : `posted <${v.id}> to bridge ${bridge}`,
      );
      return EXIT.OK;
    case 'duplicate':
      out(`<${v.id}> is already in the store; nothing was posted twice`);
      return EXIT.OK;
    case 'ignored':
      out(`<${v.id}> was not relayed: ${v.reason}`);
      return EXIT.OK;
    case 'rejected':
      err(`the post was refused: ${v.reason}`);
      return verdictExit(v);
    case 'tempfail':
      err(`the post was refused for now, nothing was stored: ${v.reason}. Try again later.`);
      return verdictExit(v);
  }
}

/** The exit status of `peerpost post` for a verdict: by its code, never by the wording of its reason. */
export function verdictExit(v: IngestVerdict): number {
  switch (v.status) {
    case 'accepted':
    case 'duplicate':
    case 'ignored':
      return EXIT.OK;
    case 'rejected':
    case 'tempfail':
      return v.code === 'no-bridge' ? EXIT.NOT_FOUND : EXIT.REFUSED;
  }
}

async function cmdPost(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { bridge: { type: 'string', short: 'b' }, from: { type: 'string' }, subject: { type: 'string', short: 's' } },
    true,
  );
  if (values.help) return help('post');
  if (!values.bridge) throw new UsageError('which bridge? give -b BRIDGE');
  if (positionals.length > 1)
    throw new UsageError('give the text as one argument (quote it), or "-" to read standard input');
  const body = positionals.length === 0 || positionals[0] === '-' ? await readStdin() : positionals[0]!;
  if (body.trim() === '') throw new UsageError('the post is empty');
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const from = values.from ?? process.env.USER ?? 'peerpost';
  const req: ControlRequest = {
    cmd: 'post',
    bridge: values.bridge,
    body,
    from,
    ...(values.subject ? { subject: values.subject } : {}),
  };
  const answer = (await ask(config.node.data, req)) as IngestVerdict | { error: string } | undefined;
  if (answer !== undefined) {
    if ('error' in answer) {
      err(`peerpost refused: ${answer.error}`);
      return EXIT.FAILED;
    }
    return explainVerdict(answer, values.bridge, false);
  }
  // No daemon: straight into the store (one that exists); the next start delivers it.
  const store = openStore(found, config);
  try {
    const router = routerFor(config, await pluginsFor(config));
    const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
    // Rows and digest lines wait in the store; the daemon's next start delivers them and closes the conversation.
    const { core, keeper } = ingestPipeline(store, router, config, undefined, { core: log, digests: log });
    const v = await core.inject(values.bridge, {
      target: 'cli',
      author: { name: from, via: 'cli' },
      body,
      ...(values.subject ? { subject: values.subject } : {}),
    });
    keeper.close();
    return explainVerdict(v, values.bridge, true);
  } finally {
    store.close();
  }
}

function age(ms: number): string {
  return formatDuration(Math.max(0, ms));
}

function printRows(
  rows: OutboxRow[],
  dead: boolean,
  elsewhere: { waiting: QueueWaiting[]; conversations: OpenConversation[] } = { waiting: [], conversations: [] },
  running = true,
): void {
  const now = Date.now();
  const queued = elsewhere.waiting.filter((w) => w.count > 0);
  const more = () => {
    if (queued.length) out(`\n${queued.map((w) => waitingLine(w, now)).join('\n')}`);
    if (elsewhere.conversations.length)
      out(`\n${elsewhere.conversations.map((c) => conversationLine(c, now, running)).join('\n')}`);
  };
  if (rows.length === 0) {
    if (dead) out('no dead letters');
    else if (queued.length === 0 && elsewhere.conversations.length === 0)
      out('the outbox is empty: every post reached every endpoint');
    else out('no delivery waits in the outbox; but:');
    if (!dead) more();
    return;
  }
  out(['ROW', 'AGE', 'TRIES', 'ENDPOINT', 'POST', dead ? 'WHY IT FAILED' : 'STATE'].join('\t'));
  for (const r of rows) {
    const state =
      r.state === 'dead'
        ? `dead ${age(now - (r.deadAt ?? now))} ago: ${r.lastError}`
        : r.lastError
          ? `retry ${r.nextAt > now ? `in ${age(r.nextAt - now)}` : 'now'}: ${r.lastError}`
          : 'waiting';
    out([r.row, age(now - r.createdAt), r.attempts, r.endpoint, `<${r.postId}>`, state].join('\t'));
  }
  if (!dead) more();
}

async function cmdOutbox(args: string[]): Promise<number> {
  const { values } = parse(args, {
    bridge: { type: 'string', short: 'b' },
    dead: { type: 'boolean' },
    retry: { type: 'string' },
    all: { type: 'boolean' },
    drop: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) return help('outbox');
  const acts = [values.retry !== undefined, values.all === true, values.drop !== undefined].filter(Boolean).length;
  if (acts > 1) throw new UsageError('give one of --retry ROW, --all, --drop ROW');
  const rowArg = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v))
      throw new UsageError(`${flag} takes an outbox row number (the ROW column of peerpost outbox)`);
    return Number(v);
  };
  const retryRow = rowArg(values.retry, '--retry');
  const dropRow = rowArg(values.drop, '--drop');
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  if (values.bridge && !config.bridges[values.bridge] && acts === 0)
    err(`note: the config has no bridge "${values.bridge}"; showing what the store holds for it`);
  if (acts === 1) {
    const req: OutboxRequest =
      retryRow !== undefined
        ? { cmd: 'retry', row: retryRow }
        : dropRow !== undefined
          ? { cmd: 'drop', row: dropRow }
          : { cmd: 'retry', all: true, ...(values.bridge ? { bridge: values.bridge } : {}) };
    let answer = (await ask(config.node.data, req)) as OutboxAnswer | undefined;
    const live = answer !== undefined;
    if (!live) {
      const store = openStore(found, config);
      try {
        answer = outboxAction(store, req); // tried when peerpost next starts
      } finally {
        store.close();
      }
    }
    if (!answer!.ok) {
      err(answer!.error ?? 'refused');
      return EXIT.NOT_FOUND;
    }
    const when = live ? 'now' : 'when peerpost next starts';
    if (dropRow !== undefined) out(`dropped outbox row ${dropRow}: that post will not reach that endpoint`);
    else out(`${plural(answer!.count ?? 0, 'row')} back in line, tried ${when}`);
    return EXIT.OK;
  }
  const store = openStore(found, config);
  try {
    const rows = store.listOutbox({
      state: values.dead ? 'dead' : 'pending',
      ...(values.bridge ? { bridge: values.bridge } : {}),
    });
    const elsewhere = values.dead
      ? { waiting: [], conversations: [] }
      : await waitingElsewhere(config, store, values.bridge);
    if (values.json) out(JSON.stringify({ rows, ...elsewhere }, null, 2));
    else {
      // Whether a daemon runs (to close the conversations) matters only when one is open.
      const running =
        elsewhere.conversations.length === 0 ||
        (await ask(config.node.data, { cmd: 'status' }, 5000).catch(() => undefined)) !== undefined;
      printRows(rows, values.dead === true, elsewhere, running);
    }
  } finally {
    store.close();
  }
  return EXIT.OK;
}

type Status = DaemonStatus;

/** Several processes on one PostgreSQL database: each, what it holds and since when (src/runtime/leases.ts). */
function printProcesses(processes: NonNullable<Status['processes']>, now: number): void {
  out(`\nprocesses on the database (${processes.length}):`);
  for (const p of processes) {
    out(
      `  ${p.host} pid ${p.pid}${p.self ? ' (this one)' : ''}: up since ${new Date(p.started).toISOString()}, last heartbeat ${formatDuration(Math.max(0, now - p.heartbeat))} ago`,
    );
    for (const l of p.leases)
      out(
        `    holds ${l.name} since ${new Date(l.since).toISOString()} (${formatDuration(Math.max(0, now - l.since))}, epoch ${l.epoch})`,
      );
    if (p.leases.length === 0) out('    holds nothing');
  }
}

async function cmdStatus(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  if (values.help) return help('status');
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const s = (await ask(config.node.data, { cmd: 'status' })) as Status | undefined;
  if (s === undefined) {
    const store = openStore(found, config); // none: exit 7, not "not running" (this may not be the daemon's config)
    let depth: number;
    let elsewhere: { waiting: QueueWaiting[]; conversations: OpenConversation[] };
    let processes: Status['processes'];
    try {
      depth = store.outboxStats().reduce((n, x) => n + x.pending, 0);
      elsewhere = await waitingElsewhere(config, store);
      // Other processes on the same PostgreSQL database may run while this one does not.
      if (store.dialect === 'postgres')
        processes = processesOf(store.db as unknown as LeaseDb, config.node.failoverMs ?? 15_000);
    } finally {
      store.close();
    }
    const robot = elsewhere.waiting.reduce((n, w) => n + w.count, 0);
    const lines = elsewhere.conversations.reduce((n, c) => n + c.lines, 0);
    if (values.json)
      out(JSON.stringify({ running: false, pending: depth, ...elsewhere, ...(processes ? { processes } : {}) }));
    else {
      out(
        `peerpost is not running (no daemon answers in ${config.node.data}, the node.data of ${found.file}); ${depth} deliver${depth === 1 ? 'y waits' : 'ies wait'} in the outbox${robot ? `, ${robot} message${robot === 1 ? '' : 's'} in the accounts' own queues (robot mail)` : ''}${lines ? `, ${lines} line${lines === 1 ? '' : 's'} for a conversation that closes when it runs` : ''}`,
      );
      if (processes) printProcesses(processes, Date.now());
    }
    return EXIT.NOT_RUNNING;
  }
  if (values.json) {
    out(JSON.stringify({ running: true, ...s }, null, 2));
    return EXIT.OK;
  }
  const now = Date.now();
  out(`peerpost ${s.version}, pid ${s.pid}, up ${formatDuration(s.uptimeMs)}; config ${s.config}; data ${s.data}`);
  if (s.processes) printProcesses(s.processes, now);
  out(s.accounts.length ? '\naccounts:' : '\nno accounts configured');
  for (const a of s.accounts) {
    out(
      `  ${a.name.padEnd(20)} ${a.state} for ${formatDuration(now - a.since)}${a.detail ? ` (${a.detail})` : ''}; ${a.delivered} delivered`,
    );
    if (a.lastError)
      out(`  ${''.padEnd(20)} last error ${formatDuration(now - a.lastError.at)} ago: ${a.lastError.message}`);
  }
  const pending = s.outbox.reduce((n, x) => n + x.pending, 0);
  const dead = s.outbox.reduce((n, x) => n + x.dead, 0);
  out(`\noutbox: ${pending} pending, ${dead} dead`);
  for (const o of s.outbox) {
    out(
      `  ${o.endpoint.padEnd(32)} ${o.pending} pending${o.oldest ? `, oldest ${formatDuration(now - o.oldest)}` : ''}, ${o.dead} dead${o.waiting ? `; waiting since ${formatDuration(now - o.waiting.since)}: ${o.waiting.reason}` : ''}`,
    );
  }
  const queued = (s.waiting ?? []).filter((w) => w.count > 0);
  if (queued.length) out(`\n${queued.map((w) => waitingLine(w, now)).join('\n')}`);
  const talks = s.conversations ?? [];
  if (talks.length)
    out(`\nopen conversations (digest):\n${talks.map((c) => `  ${conversationLine(c, now)}`).join('\n')}`);
  if ((s.late ?? []).length)
    out(
      `\nwaiting too long (delivery.alertAfter ${formatDuration(s.alertAfterMs)}; /healthz says unhealthy):\n${s.late.map((l) => `  ${l}`).join('\n')}`,
    );
  return EXIT.OK;
}

async function help(cmd: string): Promise<number> {
  out(HELP[cmd] ?? (await loadCommand(cmd))?.help ?? HELP.main!);
  return EXIT.OK;
}

/** The commands the plugins of the config add, with their protocol. */
async function pluginCommands(
  config: PeerpostConfig,
): Promise<{ protocol: string; def: PluginDefinition; command: PluginCommand }[]> {
  const defs = await pluginsFor(config);
  return [...defs].flatMap(([protocol, def]) => (def.commands ?? []).map((command) => ({ protocol, def, command })));
}

async function mainHelp(): Promise<number> {
  out(HELP.main!);
  const commands = await loadCommands();
  if (commands.length)
    out(`Commands of the archive:\n${commands.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}\n`);
  try {
    const r = await loadConfigFile(findConfig().file, { lookup: lookupPlugin });
    if (!r.ok) return EXIT.OK;
    const cmds = await pluginCommands(r.config);
    if (cmds.length)
      out(
        `Commands of this config's plugins:\n${cmds.map((c) => `  ${c.command.name.padEnd(9)} ${c.command.summary}  (${c.protocol})`).join('\n')}\n`,
      );
  } catch {
    // help stays useful without a config
  }
  return EXIT.OK;
}

/** Split -c/--config, --json, --verbose and --help out of a plugin command's arguments; the rest are the plugin's. */
function commonArgs(args: string[]): {
  config?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
  rest: string[];
} {
  const rest: string[] = [];
  let config: string | undefined;
  let json = false;
  let verbose = false;
  let helpWanted = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (a === '-c' || a === '--config') {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a file`);
      config = args[++i];
    } else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '--json') json = true;
    else if (a === '--verbose') verbose = true;
    else if (a === '--help' || a === '-h') helpWanted = true;
    else rest.push(a);
  }
  return { ...(config !== undefined ? { config } : {}), json, verbose, help: helpWanted, rest };
}

/** The accounts of one protocol as a plugin command (or a plugin's waiting()) sees them, here against the store. */
function offlineAccounts(config: PeerpostConfig, store: Store, router: Router, protocol: string): CommandAccount[] {
  const secret = lazySecret(store);
  return commandAccounts({ config, store, endpoints: (a) => endpointViews(router, a), secret }, protocol);
}

/** What waits outside the outbox, read from the store: the accounts' own queues (robot mail), open conversations. */
async function waitingElsewhere(
  config: PeerpostConfig,
  store: Store,
  bridge?: string,
): Promise<{ waiting: QueueWaiting[]; conversations: OpenConversation[] }> {
  const defs = await pluginsFor(config);
  const router = routerFor(config, defs);
  return waitingOutside(
    store,
    config,
    defs,
    (protocol) => offlineAccounts(config, store, router, protocol),
    (protocol, e) => err(`note: ${waitingFailed(protocol, e)}`),
    bridge,
  );
}

/** A command a plugin adds: inside the running daemon, else (when it allows) here against the store. */
async function cmdPlugin(name: string, args: string[]): Promise<number | undefined> {
  const { config: given, json, verbose, help: helpWanted, rest } = commonArgs(args);
  const found = findConfig({ given });
  const file = found.file;
  const r = await loadConfigFile(file, { lookup: lookupPlugin });
  if (!r.ok) {
    err(
      `note: ${file} has ${plural(r.errors.length, 'error')} (see peerpost check), so the commands its plugins add are not known`,
    );
    return undefined;
  }
  const config = r.config;
  const defs = await pluginsFor(config);
  const ours = findCommand(defs, name);
  if (!ours) return undefined;
  const { protocol, command } = ours;
  if (helpWanted) {
    out(`Usage: ${command.usage}\n\n${command.summary}`);
    return EXIT.OK;
  }
  announce(found, config, verbose);
  const answer = (await ask(config.node.data, { cmd: 'plugin', name, args: rest, cwd: process.cwd(), json })) as
    CommandResult | { error: string } | undefined;
  let result: CommandResult;
  if (answer !== undefined) {
    result = 'error' in answer ? { exit: EXIT.FAILED, stderr: `peerpost refused: ${answer.error}` } : answer;
  } else if (command.needsDaemon) {
    if (!hasStore(config.node.data)) throw new NoStoreHere(found, config);
    result = {
      exit: EXIT.NOT_RUNNING,
      stderr: `peerpost ${name} needs the running daemon, and none answers in ${config.node.data}; start it with \`peerpost start\` (or \`npm start\`)`,
    };
  } else {
    const store = openStore(found, config);
    try {
      const accounts = offlineAccounts(config, store, routerFor(config, defs), protocol);
      result = await command.run(rest, { running: false, cwd: process.cwd(), json, accounts });
    } finally {
      store.close();
    }
  }
  if (result.stdout) out(result.stdout);
  if (result.stderr) err(result.stderr);
  if (result.exit === EXIT.USAGE && !result.stderr?.includes('Usage:')) err(`Usage: ${command.usage}`);
  return result.exit;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'start':
        return await cmdStart(rest);
      case 'check':
        return await cmdCheck(rest);
      case 'post':
        return await cmdPost(rest);
      case 'outbox':
        return await cmdOutbox(rest);
      case 'status':
        return await cmdStatus(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return rest[0] && (HELP[rest[0]] || Object.hasOwn(COMMAND_LOADERS, rest[0]))
          ? await help(rest[0])
          : await mainHelp();
      case '--version':
      case '-V':
      case 'version':
        out(VERSION);
        return EXIT.OK;
      default: {
        const command = await loadCommand(cmd);
        if (command) return await command.run(rest);
        if (/^[a-z][a-z-]*$/.test(cmd)) {
          const code = await cmdPlugin(cmd, rest);
          if (code !== undefined) return code;
        }
        err(`peerpost: unknown command "${cmd}"\n`);
        err(HELP.main!);
        return EXIT.USAGE;
      }
    }
  } catch (e) {
    return reportFailure(cmd, e);
  }
}
