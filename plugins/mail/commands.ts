/**
 * The mail plugin's commands (`peerpost subscribers`, `peerpost held`), run in
 * the daemon when it runs, else in the CLI process against the store.
 *
 *   peerpost subscribers LIST [list|add ADDR…|remove ADDR…|import FILE|set ADDR SETTING…|show ADDR]
 *   peerpost held [LIST] [list|approve ID|reject ID [REASON…]|discard ID]
 *
 * LIST is the list name (the endpoint target, "commons"), or account/list when
 * two mail accounts have a list of that name.
 */
import { plural } from '../../src/plugin.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PluginCommand, CommandEnv, CommandAccount, CommandResult } from '../../src/plugin.js';
import { addressProblem, normaliseAddress } from './lists.js';
import { ListStore } from './subscribe.js';
import { ModerationStore } from './bans.js';
import { BY_CLI, dropHeld, type Moderation } from './moderate.js';
import { MemberStore, describeSettings, parseSetWords } from './members.js';

/** What a running mail account's handle offers the commands. */
export interface MailHandleApi {
  approve(id: number): Promise<{ ok: true; reply: string } | { ok: false; exit: number; reason: string }>;
  reject(id: number, reason: string): Promise<{ ok: true } | { ok: false; exit: number; reason: string }>;
  /** Held posts and bans (plugins/mail/moderate.ts): every decision of `peerpost held` goes through it. */
  moderation?: Moderation;
}

export const out = (stdout: string, exit = 0): CommandResult => ({
  exit,
  stdout: stdout.endsWith('\n') || !stdout ? stdout : `${stdout}\n`,
});
export const fail = (exit: number, stderr: string): CommandResult => ({
  exit,
  stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n`,
});

const stores = new WeakMap<CommandAccount, ListStore>();
export function storeOf(a: CommandAccount): ListStore {
  let s = stores.get(a);
  if (!s) stores.set(a, (s = new ListStore(a.store, a.account)));
  return s;
}

const memberStores = new WeakMap<CommandAccount, MemberStore>();
function membersOf(a: CommandAccount): MemberStore {
  let s = memberStores.get(a);
  if (!s) memberStores.set(a, (s = new MemberStore(a.store, a.account)));
  return s;
}

/** The account that has this list, or a message why none (or more than one) does. */
export function findList(env: CommandEnv, name: string): { acct: CommandAccount; list: string } | CommandResult {
  const slash = name.lastIndexOf('/');
  const wantAccount = slash >= 0 ? name.slice(0, slash) : undefined;
  const list = (slash >= 0 ? name.slice(slash + 1) : name).toLowerCase();
  const all = env.accounts.filter((a) => wantAccount === undefined || a.account === wantAccount);
  const have = all.filter((a) => a.endpoints().some((e) => e.target === list));
  if (have.length === 1) return { acct: have[0]!, list };
  if (have.length > 1)
    return fail(
      2,
      `the list "${list}" is on ${have.map((a) => a.account).join(' and ')}: write ACCOUNT/${list}, e.g. ${have[0]!.account}/${list}`,
    );
  const known = env.accounts.flatMap((a) => a.endpoints().map((e) => `${e.target} (${a.account})`));
  return fail(
    5,
    `no list "${name}" in the config${known.length ? `; the lists are: ${known.join(', ')}` : ' (no mail endpoint is configured)'}`,
  );
}

export const isResult = (x: unknown): x is CommandResult => typeof x === 'object' && x !== null && 'exit' in x;

/** "alice@example.org" or "Alice <alice@example.org>" → address and name. */
function parseEntry(s: string): { address: string; name: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^<>]+)>\s*$/.exec(s);
  return m ? { address: m[2]!.trim(), name: m[1]!.trim() } : { address: s.trim(), name: '' };
}

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

async function subscribers(args: string[], env: CommandEnv): Promise<CommandResult> {
  const [name, sub = 'list', ...rest] = args;
  if (!name) return fail(2, `usage: ${subscribersCommand.usage}`);
  const found = findList(env, name);
  if (isResult(found)) return found;
  const { acct, list } = found;
  const store = storeOf(acct);
  switch (sub) {
    case 'list': {
      if (rest.length) return fail(2, `"subscribers ${name} list" takes no more arguments`);
      const members = store.members(list);
      const settings = membersOf(acct).all(list);
      const modeOf = (a: string) => {
        const s = settings.get(a);
        if (!s) return '';
        const parts = [
          ...(s.mode === 'digest' ? [`digest ${s.digestFormat}`] : []),
          ...(s.mode === 'nomail' ? [`nomail${s.nomailUntil ? ` until ${s.nomailUntil}` : ''}`] : []),
          ...(s.ownPosts ? [] : ['ownposts off']),
        ];
        return parts.length ? `  [${parts.join(', ')}]` : '';
      };
      if (env.json)
        return out(
          JSON.stringify(
            members.map((m) => ({
              ...m,
              since: when(m.since),
              lastBounce: m.lastBounce === null ? null : when(m.lastBounce),
              settings: membersOf(acct).get(list, m.address),
            })),
            null,
            2,
          ),
        );
      if (!members.length) return out(`${list} (${acct.account}) has no subscribers.`);
      const lines = members.map(
        (m) =>
          `${m.address}${m.name ? ` (${m.name})` : ''}${modeOf(m.address)}${m.delivery ? '' : `  [delivery disabled: bounce score ${m.bounceScore}]`}`,
      );
      return out(
        `${lines.join('\n')}\n${plural(members.length, 'subscriber')} of ${list} (${acct.account}), ${members.filter((m) => m.delivery).length} receiving.`,
      );
    }
    case 'add':
    case 'import': {
      let entries: { address: string; name: string; where: string }[];
      if (sub === 'add') {
        if (!rest.length) return fail(2, `usage: peerpost subscribers ${name} add ADDR…`);
        entries = rest.map((a) => ({ ...parseEntry(a), where: `"${a}"` }));
      } else {
        if (rest.length !== 1)
          return fail(
            2,
            `usage: peerpost subscribers ${name} import FILE (one address a line; blank lines and lines starting with # are skipped)`,
          );
        const file = resolve(env.cwd, rest[0]!);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          return fail(
            5,
            `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
          );
        }
        entries = text
          .split(/\r?\n/)
          .map((l, i) => ({ line: l.trim(), n: i + 1 }))
          .filter((x) => x.line && !x.line.startsWith('#'))
          .map((x) => ({ ...parseEntry(x.line), where: `${rest[0]}:${x.n}` }));
      }
      const bad = entries.map((e) => ({ e, p: addressProblem(e.address) })).filter((x) => x.p);
      if (bad.length)
        return fail(
          2,
          `${bad.map((x) => `${x.e.where}: ${x.p}`).join('\n')}\nnothing was changed: fix ${bad.length === 1 ? 'this address' : 'these addresses'} and run it again`,
        );
      let added = 0,
        enabled = 0,
        already = 0;
      const lines: string[] = [];
      acct.store.transaction(() => {
        for (const e of entries) {
          const a = normaliseAddress(e.address);
          const existing = store.member(list, a);
          if (!existing) {
            store.add(list, a, e.name);
            added++;
            if (sub === 'add') lines.push(`added ${a}`);
          } else if (!existing.delivery) {
            store.enableDelivery(list, a);
            enabled++;
            lines.push(`${a} was subscribed with delivery disabled by bounces: delivery enabled again`);
          } else {
            already++;
            if (sub === 'add') lines.push(`${a} was subscribed already`);
          }
        }
      });
      lines.push(
        `${list} (${acct.account}): ${added} added${enabled ? `, ${enabled} re-enabled` : ''}${already ? `, ${already} subscribed already` : ''} (no confirmation asked).`,
      );
      return out(lines.join('\n'));
    }
    case 'remove': {
      if (!rest.length) return fail(2, `usage: peerpost subscribers ${name} remove ADDR…`);
      const lines: string[] = [];
      let missing = 0;
      for (const a of rest.map((x) => normaliseAddress(parseEntry(x).address))) {
        if (store.remove(list, a)) lines.push(`removed ${a}`);
        else {
          missing++;
          lines.push(`${a} is not subscribed to ${list}`);
        }
      }
      return missing ? { exit: 5, stdout: `${lines.join('\n')}\n` } : out(lines.join('\n'));
    }
    case 'set':
    case 'show': {
      const [who, ...words] = rest;
      if (!who || (sub === 'set' ? !words.length : words.length))
        return fail(
          2,
          sub === 'set'
            ? `usage: peerpost subscribers ${name} set ADDRESS each|digest [mime|plain]|nomail [until YYYY-MM-DD]|ownposts on|off`
            : `usage: peerpost subscribers ${name} show ADDRESS`,
        );
      const a = normaliseAddress(parseEntry(who).address);
      if (!store.member(list, a))
        return fail(5, `${a} is not subscribed to ${list}; add it first: peerpost subscribers ${name} add ${a}`);
      const members = membersOf(acct);
      let head = '';
      if (sub === 'set') {
        const c = parseSetWords(words);
        if ('problem' in c) return fail(2, `nothing was changed: ${c.problem}`);
        const r = members.set(list, a, c);
        if ('problem' in r) return fail(2, `nothing was changed: ${r.problem}`);
        head = r.changed ? `${a} on ${list}: changed (the member is not told).` : `${a} on ${list}: it was so already.`;
      }
      const s = members.get(list, a);
      if (env.json) return out(JSON.stringify({ list, address: a, settings: s }, null, 2));
      return out([...(head ? [head] : [`${a} on ${list}:`]), ...describeSettings(s)].join('\n'));
    }
    default:
      return fail(2, `unknown action "${sub}"; usage: ${subscribersCommand.usage}`);
  }
}

const HELD_ACTIONS = ['list', 'approve', 'reject', 'discard', 'ban'];

async function held(args: string[], env: CommandEnv): Promise<CommandResult> {
  let name: string | undefined;
  let rest = args;
  if (rest[0] && !HELD_ACTIONS.includes(rest[0])) [name, ...rest] = rest;
  const [sub = 'list', idText, ...reason] = rest;
  let accounts = env.accounts;
  let list: string | undefined;
  if (name) {
    const found = findList(env, name);
    if (isResult(found)) return found;
    accounts = [found.acct];
    list = found.list;
  }
  if (sub === 'list') {
    if (idText) return fail(2, `usage: ${heldCommand.usage}`);
    const rows = accounts.flatMap((a) =>
      storeOf(a)
        .held(list)
        .map((h) => ({ account: a.account, ...h })),
    );
    if (env.json)
      return out(
        JSON.stringify(
          rows.map((r) => ({ ...r, received: when(r.received) })),
          null,
          2,
        ),
      );
    if (!rows.length) return out(`no held posts${list ? ` for ${list}` : ''}.`);
    return out(
      rows
        .map(
          (r) =>
            `#${r.id}  ${r.list}  ${when(r.received)}  from ${r.sender}\n     subject: ${r.subject || '(none)'}\n     held: ${r.reason}`,
        )
        .join('\n'),
    );
  }
  if (!HELD_ACTIONS.includes(sub)) return fail(2, `unknown action "${sub}"; usage: ${heldCommand.usage}`);
  if (!idText || !/^#?\d+$/.test(idText))
    return fail(
      2,
      `usage: peerpost held [LIST] ${sub} ID${sub === 'reject' ? ' [REASON…]' : ''} (the number shown by "peerpost held")`,
    );
  const id = Number(idText.replace('#', ''));
  const owner = accounts.find(
    (a) => storeOf(a).heldOne(id) && (list === undefined || storeOf(a).heldOne(id)!.list === list),
  );
  if (!owner) return fail(5, `no held post #${id}${list ? ` for ${list}` : ''}; "peerpost held" lists them`);
  const api = (owner.handle as unknown as { mail?: MailHandleApi } | undefined)?.mail;
  const h = storeOf(owner).heldOne(id)!;
  const e = api?.moderation?.endpoint(h.list);
  if (env.running && api?.moderation && e) {
    // The daemon: the same decision as a reply to the held notice (logged; a replayed notice is told).
    const r = await api.moderation.decide(e, id, sub as 'approve' | 'reject' | 'discard' | 'ban', {
      by: BY_CLI,
      reason: reason.join(' '),
    });
    if (r.ok)
      return out(
        sub === 'approve'
          ? `held post #${id} ${r.summary.replace(/^approved and /, 'approved: ')}`
          : sub === 'reject'
            ? `held post #${id} rejected; the sender is told.`
            : `held post #${id} ${r.summary}.`,
      );
    return fail(r.code === 'failed' ? (/try again later/.test(r.reason) ? 4 : 6) : 5, r.reason);
  }
  if (sub === 'discard' || sub === 'ban') {
    dropHeld(storeOf(owner), new ModerationStore(owner.store, owner.account), h, sub, BY_CLI);
    return out(
      sub === 'ban'
        ? `held post #${id} discarded; ${h.sender} is banned from ${h.list} (not told).`
        : `held post #${id} discarded (the sender is not told).`,
    );
  }
  if (!env.running || !api)
    return fail(
      3,
      `peerpost is not running: ${sub === 'approve' ? 'approving posts the message, which' : 'rejecting tells the sender, which'} needs the running daemon. Start it (peerpost start), then run this again.`,
    );
  if (sub === 'approve') {
    const r = await api.approve(id);
    return r.ok
      ? out(`held post #${id} approved: ${r.reply}`)
      : fail(r.exit, `held post #${id} was not posted: ${r.reason} (it stays held)`);
  }
  const r = await api.reject(id, reason.join(' '));
  return r.ok ? out(`held post #${id} rejected; the sender is told.`) : fail(r.exit, r.reason);
}

export const subscribersCommand: PluginCommand = {
  name: 'subscribers',
  summary:
    'list, add, remove or import the subscribers of a mailing list (add skips confirmation); set or show how one gets it',
  usage:
    'peerpost subscribers LIST [list|add ADDR…|remove ADDR…|import FILE|set ADDR each|digest [mime|plain]|nomail [until DAY]|ownposts on|off|show ADDR] [--json]',
  needsDaemon: false,
  run: subscribers,
};

export const heldCommand: PluginCommand = {
  name: 'held',
  summary:
    'posts held for the owners of a mailing list: list, approve, reject, discard or ban (discard and ban the sender) them',
  usage: 'peerpost held [LIST] [list|approve ID|reject ID [REASON…]|discard ID|ban ID] [--json]',
  needsDaemon: false,
  run: held,
};

export const commands: PluginCommand[] = [subscribersCommand, heldCommand];
