/**
 * `peerpost bans LIST [list|add PATTERN…|remove PATTERN…]`: the bans of a list (plugins/mail/bans.ts). Bans from the
 * config (`bans:` of the list endpoint and of the mail account) are shown and changed in the config file; those
 * added here, by a `ban` decision or on the owner page are kept in the store, and take effect at once.
 */
import type { CommandAccount, CommandEnv, CommandResult, PluginCommand } from '../../src/plugin.js';
import { ModerationStore, parseBan } from './bans.js';
import { BY_CLI } from './moderate.js';
import { fail, findList, isResult, out } from './commands.js';
import type { EndpointOptions } from './schema.js';

const stores = new WeakMap<CommandAccount, ModerationStore>();
function modOf(a: CommandAccount): ModerationStore {
  let s = stores.get(a);
  if (!s) stores.set(a, (s = new ModerationStore(a.store, a.account)));
  return s;
}
const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

async function bans(args: string[], env: CommandEnv): Promise<CommandResult> {
  const [name, sub = 'list', ...patterns] = args;
  if (!name) return fail(2, `usage: ${bansCommand.usage}`);
  const found = findList(env, name);
  if (isResult(found)) return found;
  const { acct, list } = found;
  const mod = modOf(acct);
  const e = acct.endpoints().find((x) => x.target === list)!;
  const fromList = (e.options as EndpointOptions).bans ?? [];
  const fromAccount = ((acct.config as { bans?: string[] }).bans ?? []) as string[];
  switch (sub) {
    case 'list': {
      if (patterns.length) return fail(2, `"bans ${name} list" takes no more arguments`);
      const rows = [
        ...fromList.map((pattern) => ({ pattern, source: `config: bans of ${list}` })),
        ...fromAccount.map((pattern) => ({ pattern, source: `config: bans of ${acct.account} (every list)` })),
        ...mod.added(list).map((b) => ({ pattern: b.pattern, source: `added by ${b.by} at ${when(b.added)}` })),
      ];
      if (env.json) return out(JSON.stringify(rows, null, 2));
      if (!rows.length) return out(`nobody is banned from ${list} (${acct.account}).`);
      return out(rows.map((r) => `${r.pattern}  (${r.source})`).join('\n'));
    }
    case 'add':
    case 'remove': {
      if (!patterns.length)
        return fail(
          2,
          `usage: peerpost bans ${name} ${sub} PATTERN… (an address, a glob such as *@spam.example, or /regex/)`,
        );
      const parsed = patterns.map((p) => ({ p, b: parseBan(p) }));
      const bad = parsed.filter((x) => 'problem' in x.b);
      if (sub === 'add' && bad.length)
        return fail(
          2,
          `${bad.map((x) => (x.b as { problem: string }).problem).join('\n')}\nnothing was changed: fix ${bad.length === 1 ? 'this pattern' : 'these patterns'} and run it again`,
        );
      const lines: string[] = [];
      let missing = 0;
      for (const { p, b } of parsed) {
        const pattern = 'problem' in b ? p.trim() : b.pattern;
        if (sub === 'add') {
          lines.push(
            mod.ban(list, pattern, BY_CLI)
              ? `banned ${pattern} from ${list}`
              : `${pattern} was banned from ${list} already`,
          );
        } else if (mod.unban(list, pattern)) lines.push(`the ban ${pattern} on ${list} is lifted`);
        else {
          missing++;
          const inConfig = fromList.includes(pattern) || fromAccount.includes(pattern);
          lines.push(
            inConfig
              ? `${pattern} is banned by the config file (bans: of ${fromList.includes(pattern) ? list : acct.account}); remove it there`
              : `${pattern} is not among the bans added to ${list}; "peerpost bans ${name}" lists them`,
          );
        }
      }
      return missing ? { exit: 5, stdout: `${lines.join('\n')}\n` } : out(lines.join('\n'));
    }
    default:
      return fail(2, `unknown action "${sub}"; usage: ${bansCommand.usage}`);
  }
}

export const bansCommand: PluginCommand = {
  name: 'bans',
  summary:
    'who may neither post to nor subscribe to a mailing list: list, add or remove bans (addresses, *@globs, /regex/)',
  usage: 'peerpost bans LIST [list|add PATTERN…|remove PATTERN…] [--json]',
  needsDaemon: false,
  run: bans,
};
