/**
 * The test plugin (protocol "sink"): a stand-in protocol for the core's tests.
 * It is not shipped in plugins/; configs name it under `plugins:`.
 *
 * - Delivery appends one JSON line per delivered post to `file`
 *   ({ id, endpoint, target, shape, subject, body, kind, attempt, at }).
 * - `delayMs` holds every delivery that long (a delivery "in flight");
 *   `failWith` fails every delivery for good; `retryTimes` answers "retry"
 *   that many times per row (after `retryDelayMs`) before delivering.
 * - `spool`: a directory polled every 20 ms; each *.json file in it is an
 *   IncomingPost, ingested, and removed only once the core committed it
 *   (the way a protocol acknowledges only after commit). The verdict is
 *   written beside it as NAME.verdict.
 * - `listen`: a TCP listener (to test "port already in use").
 * - Commands (the plugin-command API): `peerpost sink-note ACCOUNT add TEXT | list`
 *   keeps notes in the account's store, with the daemon or without;
 *   `peerpost sink-live` needs the daemon and answers from inside it.
 */
import { appendFileSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { definePlugin, z, delivered, retry, failed, listenAddress, type IncomingPost } from '../../src/plugin.js';

const schema = z.strictObject({
  file: z.string().optional(),
  delayMs: z.number().int().min(0).default(0),
  failWith: z.string().optional(),
  retryTimes: z.number().int().min(0).default(0),
  retryDelayMs: z.number().int().min(0).default(50),
  spool: z.string().optional(),
  listen: listenAddress().optional(),
});

type Config = z.infer<typeof schema>;

/** One plugin definition per style, since a definition declares its style. */
export function sinkPlugin(protocol = 'sink', style: 'chat' | 'article' | 'plan' | 'feed' = 'chat') {
  return definePlugin<Config>({
    protocol,
    style,
    summary: 'test plugin: writes deliveries to a file, ingests a spool directory',
    account: schema,
    validateTarget: (t) => (t.includes(' ') ? 'a sink target has no spaces' : undefined),
    commands: [
      {
        name: `${protocol}-note`,
        summary: "keep a note in a sink account's store",
        usage: `peerpost ${protocol}-note ACCOUNT add TEXT | list`,
        async run(args, env) {
          const [account, verb, ...text] = args;
          const a = env.accounts.find((x) => x.account === account);
          if (!a)
            return {
              exit: 5,
              stderr: `no ${protocol} account "${account ?? ''}"; accounts: ${env.accounts.map((x) => x.account).join(', ')}`,
            };
          if (verb === 'add' && text.length) {
            a.store.set(`note:${Date.now()}:${Math.random()}`, text.join(' '));
            return {
              exit: 0,
              stdout: `noted ${env.running ? 'by the running daemon' : 'in the store (daemon not running)'}`,
            };
          }
          if (verb === 'list') {
            const notes = a.store.keys('note:').map((k) => a.store.get<string>(k)!);
            return { exit: 0, stdout: env.json ? JSON.stringify(notes) : notes.join('\n') || '(no notes)' };
          }
          return { exit: 2, stderr: 'say add TEXT or list' };
        },
      },
      {
        name: `${protocol}-live`,
        summary: 'answer from inside the running daemon',
        usage: `peerpost ${protocol}-live`,
        needsDaemon: true,
        async run(_args, env) {
          return {
            exit: 0,
            stdout: `live: ${env.accounts.map((a) => `${a.account}=${a.handle ? 'running' : 'not running'}`).join(' ')} cwd=${env.cwd}`,
          };
        },
      },
    ],
    async start(ctx) {
      let cfg = ctx.config;
      const tries = new Map<number, number>();
      if (cfg.listen) {
        await ctx.listen(
          createServer((s) => s.end('sink\r\n')),
          cfg.listen,
        );
        ctx.setState('listening', `${cfg.listen.host}:${cfg.listen.port}`);
      }
      if (cfg.spool) {
        const dir = cfg.spool;
        let busy = false;
        const poll = setInterval(async () => {
          if (busy) return;
          busy = true;
          try {
            for (const f of readdirSync(dir)
              .filter((n) => n.endsWith('.json'))
              .sort()) {
              const path = join(dir, f);
              const post = JSON.parse(readFileSync(path, 'utf8')) as IncomingPost;
              const v = await ctx.ingest(post);
              writeFileSync(`${path}.verdict.tmp`, JSON.stringify(v));
              renameSync(`${path}.verdict.tmp`, `${path}.verdict`);
              if (v.status !== 'tempfail') unlinkSync(path);
            }
          } catch (err) {
            ctx.log.error({ err }, 'spool failed');
          } finally {
            busy = false;
          }
        }, 20);
        ctx.onClose(() => clearInterval(poll));
      }
      return {
        // Delivery behaviour changes in place; anything else restarts the account.
        async reload(next) {
          const n = schema.parse(next);
          const same = (k: keyof Config) => JSON.stringify(n[k]) === JSON.stringify(cfg[k]);
          if (!same('file') || !same('spool') || !same('listen')) return 'restart';
          cfg = n;
          return 'applied';
        },
        endpointsChanged() {
          ctx.log.info({ endpoints: ctx.endpoints().map((e) => e.key) }, `sink ${ctx.account}: endpoints changed`);
        },
        async deliver(post, to) {
          if (cfg.delayMs > 0) await new Promise((r) => setTimeout(r, cfg.delayMs));
          if (cfg.failWith) return failed(cfg.failWith, 'refused-by-peer');
          const n = tries.get(to.row) ?? 0;
          if (n < cfg.retryTimes) {
            tries.set(to.row, n + 1);
            return retry(`sink asked to retry (${n + 1}/${cfg.retryTimes})`, cfg.retryDelayMs);
          }
          if (cfg.file) {
            appendFileSync(
              cfg.file,
              JSON.stringify({
                id: post.id,
                endpoint: to.endpoint,
                target: to.target,
                shape: to.shape,
                subject: post.subject ?? null,
                body: post.body,
                kind: post.kind,
                author: post.author.name,
                ...(post.author.account ? { account: post.author.account } : {}),
                attempt: to.attempt,
                at: Date.now(),
              }) + '\n',
            );
          }
          return delivered(String(to.row));
        },
      };
    },
  });
}

export default sinkPlugin();
