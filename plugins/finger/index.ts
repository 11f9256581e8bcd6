/**
 * The finger plugin (RFC 1288): every bridge a .plan, and Thimbl-style
 * following of remote plans. See plugins/finger/README.md.
 *
 *   accounts:
 *     finger.local: { listen: 127.0.0.1:7979 }
 *   bridges:
 *     commons:
 *       endpoints:
 *         - finger.local/commons                                    # `finger commons@host`
 *         - { endpoint: finger.local/follow:dk@example.net, direction: in }   # follow a plan
 */
import {
  definePlugin,
  z,
  delivered,
  failed,
  duration,
  formatAddress,
  listenAddress,
  reloadPlan,
  type EndpointView,
  type PluginContext,
  type StoredPost,
} from '../../src/plugin.js';
import { fingerServer } from './server.js';
import type { Query } from './query.js';
import { oneLineAnswer, planPost, renderList, renderPlan, renderThimbl, type ListEntry } from './render.js';
import { FOLLOW_PREFIX, fingerQuery, nextDelay, parseFollow, targetProblem, type FollowAddress } from './follow.js';
import { planChange, planTextId, readRemotePlan, thimblMessageId } from './remote.js';
import { clean, type Charset } from './text.js';
import { joinLines, fingerAddress } from './join.js';

const account = z.strictObject({
  /** Where to listen; port 79 needs root (or CAP_NET_BIND_SERVICE). */
  listen: listenAddress('127.0.0.1:7979'),
  /** `finger @host` lists the public plans; false answers with one line refusing the list. */
  publicList: z.boolean().default(true),
  /** Posts in a plan. */
  maxPosts: z.number().int().min(1).max(1000).default(10),
  /** Posts in a verbose (/W) plan. */
  verbosePosts: z.number().int().min(1).max(1000).default(50),
  /** What the plain answers may carry: printable ASCII (RFC 1288's safe choice), or UTF-8 text. */
  charset: z.enum(['ascii', 'utf-8']).default('ascii'),
  /** A client that has not sent its query line by then is disconnected. */
  idleTimeout: duration('10s'),
  /** Queries per client address per window; queries: 0 turns the limit off. */
  rateLimit: z
    .strictObject({ queries: z.number().int().min(0).default(30), per: duration('1m') })
    .default({ queries: 30, per: 60_000 }),
  /** Clients served at once; more are told to try later. */
  maxClients: z.number().int().min(1).max(10_000).default(64),
  /** Following: how often a followed plan is fetched (an endpoint's `poll` overrides it). */
  poll: duration('15m'),
  /** Following: how long one fetch may take. */
  pollTimeout: duration('30s'),
  /** Following: the longest wait between tries of a plan that keeps failing. */
  maxBackoff: duration('6h'),
});
type Config = z.infer<typeof account>;

/** Endpoint keys: all optional, so a key given where it means nothing is caught at start. */
const endpoint = z.strictObject({
  format: z.enum(['plan', 'thimbl']).optional(),
  public: z.boolean().optional(),
  join: z.array(z.string()).optional(),
  bio: z.string().optional(),
  properties: z.record(z.string(), z.string()).optional(),
  maxPosts: z.number().int().min(1).max(1000).optional(),
  poll: duration().optional(),
  timeout: duration().optional(),
});
type EndpointOptions = z.infer<typeof endpoint>;

const SERVED_KEYS = ['format', 'public', 'join', 'bio', 'properties', 'maxPosts'];
const FOLLOW_KEYS = ['poll', 'timeout'];

const isFollow = (e: { target: string }) => e.target.startsWith(FOLLOW_PREFIX);
const opts = (e: EndpointView) => e.options as EndpointOptions;

/** What is wrong with an endpoint of this account, if anything (checked at start and when the bridges change). */
export function endpointProblem(e: Pick<EndpointView, 'key' | 'target' | 'direction' | 'options'>): string | undefined {
  const keys = Object.keys(e.options).filter((k) => e.options[k] !== undefined);
  if (isFollow(e)) {
    if (e.direction !== 'in')
      return `endpoint ${e.key} follows a remote plan, so it can only feed the bridge: write it as { endpoint: ${e.key}, direction: in }`;
    const wrong = keys.filter((k) => !FOLLOW_KEYS.includes(k));
    if (wrong.length)
      return `endpoint ${e.key}: ${wrong.join(', ')} ${wrong.length === 1 ? 'is a key' : 'are keys'} of a served plan, not of a follow endpoint (which takes ${FOLLOW_KEYS.join(', ')})`;
  } else {
    const wrong = keys.filter((k) => !SERVED_KEYS.includes(k));
    if (wrong.length)
      return `endpoint ${e.key}: ${wrong.join(', ')} ${wrong.length === 1 ? 'is a key' : 'are keys'} of a follow endpoint (follow:user@host), not of a served plan`;
  }
  return undefined;
}

/** How long a rendered plan may be served again while no post arrived. */
const PLAN_CACHE_MS = 2_000;

/** Remembered per followed target: ids of Thimbl messages taken, hashes of plain plans posted. */
const SEEN_IDS = 5000;
const SEEN_PLANS = 500;

export default definePlugin<Config>({
  protocol: 'finger',
  style: 'plan',
  summary: 'finger (RFC 1288): every bridge a .plan; follows remote plain and Thimbl plans',
  account,
  endpoint,
  validateTarget: targetProblem,
  validateEndpoint: endpointProblem,
  // Only a followed remote plan brings posts in; a plan served here is read, never written to.
  noInput: (e) => (isFollow(e) ? undefined : 'a finger plan only shows posts: nothing comes in through it'),
  joinHint: (target, config, node) =>
    target.startsWith('follow:') ? undefined : fingerAddress(target, node.hostname, config.listen.port),
  async start(ctx: PluginContext<Config>) {
    let cfg = ctx.config;
    for (const e of ctx.endpoints()) {
      const problem = endpointProblem(e);
      if (problem) throw new Error(problem);
    }

    // ---- serving ----
    const joinCache = new Map<string, { at: number; lines: string[] }>();
    const joinFor = (e: EndpointView): string[] => {
      const explicit = opts(e).join;
      if (explicit) return explicit;
      const hit = joinCache.get(e.bridge);
      if (hit && Date.now() - hit.at < 5_000) return hit.lines;
      const lines = joinLines(
        ctx.bridges().find((b) => b.name === e.bridge),
        ctx.account,
      );
      joinCache.set(e.bridge, { at: Date.now(), lines });
      return lines;
    };
    const served = () => ctx.endpoints().filter((e) => !isFollow(e));
    const planCache = new Map<string, { seq: number; at: number; text: string }>();
    // A post removed from the archive leaves the plans at once (a cached plan may hold it), whichever process on the
    // database removed it.
    ctx.onRemoved(() => planCache.clear(), { fromOtherProcesses: true });
    /** The newest `n` posts of a bridge that belong in a plan (no join/part events). */
    const newest = (bridge: string, n: number): StoredPost[] => {
      const out: StoredPost[] = [];
      let before: number | undefined;
      for (let round = 0; round < 5 && out.length < n; round++) {
        const batch = ctx.posts.latest(bridge, { limit: n, ...(before !== undefined ? { before } : {}) });
        for (const p of batch) if (p.kind !== 'event' && out.length < n) out.push(p);
        if (batch.length < n) break;
        before = batch[batch.length - 1]!.seq;
      }
      return out;
    };
    const answer = (q: Query): string => {
      const charset: Charset = cfg.charset;
      switch (q.kind) {
        case 'forward':
          return oneLineAnswer('Finger forwarding service denied.');
        case 'bad':
          return oneLineAnswer(`Bad query: ${q.why}.`);
        case 'list': {
          if (!cfg.publicList)
            return oneLineAnswer(
              `This service does not list its plans; finger NAME@${ctx.node.hostname} for one you know.`,
            );
          const entries: ListEntry[] = served()
            .filter((e) => opts(e).public !== false)
            .map((e) => {
              const last = ctx.posts.latest(e.bridge, { limit: 1 })[0];
              return {
                name: e.target,
                description: e.description,
                posts: ctx.posts.count(e.bridge),
                ...(last ? { last: last.date } : {}),
              };
            });
          return renderList(ctx.node.hostname, entries, charset, q.verbose);
        }
        case 'user': {
          const wanted = q.name.toLowerCase();
          const e = served().find((x) => x.target.toLowerCase() === wanted);
          if (!e) return oneLineAnswer(`finger: ${q.name.slice(0, 40)}: no such plan.`);
          // A plan changes only when a post arrives: answer from the cache while the newest post is the same
          // (and for at most a few seconds, so a changed description or join list shows soon).
          const newestSeq = ctx.posts.latest(e.bridge, { limit: 1 })[0]?.seq ?? 0;
          const cacheKey = `${e.key}\0${q.verbose}\0${e.description}\0${JSON.stringify(e.options)}\0${policyOf(e.bridge)}`;
          const hit = planCache.get(cacheKey);
          if (hit && hit.seq === newestSeq && Date.now() - hit.at < PLAN_CACHE_MS) return hit.text;
          const text = renderFor(e, q.verbose);
          if (planCache.size > 1000) planCache.clear();
          planCache.set(cacheKey, { seq: newestSeq, at: Date.now(), text });
          return text;
        }
      }
    };
    /** How the plans of a bridge show mail addresses (archive.addresses; obfuscate by default). */
    const policyOf = (bridge: string) => ctx.bridges().find((b) => b.name === bridge)?.archive.addresses ?? 'obfuscate';
    /** A served plan, rendered from the store now. */
    const renderFor = (e: EndpointView, verbose: boolean): string => {
      const o = opts(e);
      const n = verbose ? cfg.verbosePosts : (o.maxPosts ?? cfg.maxPosts);
      const policy = policyOf(e.bridge);
      const view = {
        name: e.target,
        bridge: e.bridge,
        hostname: ctx.node.hostname,
        description: e.description,
        join: joinFor(e),
        posts: newest(e.bridge, n).map((p) => planPost(p, policy, o.format === 'thimbl')),
        total: ctx.posts.count(e.bridge),
        verbose,
        charset: cfg.charset,
      };
      if (o.format !== 'thimbl') return renderPlan(view);
      // A Thimbl plan lists as "following" the plans its bridge follows.
      const following = ctx
        .endpoints()
        .filter((x) => isFollow(x) && x.bridge === e.bridge)
        .flatMap((x) => {
          const f = parseFollow(x.target.slice(FOLLOW_PREFIX.length));
          return typeof f === 'string' ? [] : [{ nick: f.user, address: f.address }];
        });
      return renderThimbl({
        ...view,
        address: `${e.target}@${ctx.node.hostname}`,
        bio: o.bio ?? e.description,
        properties: o.properties ?? {},
        following,
      });
    };
    const server = fingerServer({
      idleTimeoutMs: cfg.idleTimeout,
      rateQueries: cfg.rateLimit.queries,
      rateWindowMs: cfg.rateLimit.per,
      maxClients: cfg.maxClients,
      answer,
      onError: (err) => ctx.log.error({ err }, `a finger query failed: ${err.message}`),
    });
    const at = await ctx.listen(server, cfg.listen);
    const where = formatAddress(cfg.listen.host, at.port);

    // ---- following ----
    interface Follower {
      target: string;
      addr: FollowAddress;
      timer?: NodeJS.Timeout;
      failures: number;
      busy: boolean;
      lastError?: string;
    }
    const followers = new Map<string, Follower>();
    const report = () => {
      const failing = [...followers.values()].filter((f) => f.failures > 0).length;
      ctx.setState(
        'listening',
        `${where}${followers.size ? `; following ${followers.size}${failing ? ` (${failing} failing)` : ''}` : ''}`,
      );
    };

    const schedule = (f: Follower, ms: number) => {
      clearTimeout(f.timer);
      if (ctx.signal.aborted) return;
      f.timer = setTimeout(() => void poll(f), ms);
      f.timer.unref?.();
    };

    const endpointOf = (target: string) => ctx.endpoints().find((e) => e.target === target);

    const poll = async (f: Follower) => {
      const e = endpointOf(f.target);
      if (!e || ctx.signal.aborted) return;
      const o = opts(e);
      const interval = o.poll ?? cfg.poll;
      // Several processes on one database: another one follows (it holds the account's lease); look again soon.
      if (ctx.holdsLease && !ctx.holdsLease()) {
        schedule(f, Math.min(interval, 5000));
        return;
      }
      f.busy = true;
      try {
        await fetchAndIngest(f, o.timeout ?? cfg.pollTimeout);
        if (f.failures > 0) ctx.log.info(`following ${f.addr.address} works again`);
        f.failures = 0;
        f.lastError = undefined;
      } catch (err) {
        f.failures++;
        const msg = (err as Error).message;
        if (msg !== f.lastError || f.failures === 1)
          ctx.log.warn({ target: f.target, failures: f.failures }, `following ${f.addr.address} failed: ${msg}`);
        f.lastError = msg;
      } finally {
        f.busy = false;
      }
      if (followers.get(f.target) !== f) return; // removed from the config meanwhile
      report();
      schedule(f, nextDelay(interval, f.failures, Math.max(cfg.maxBackoff, interval)));
    };

    /** The addresses our served plans are fingered at: "commons@hostname". */
    const ownAddresses = () => new Set(served().map((e) => `${e.target}@${ctx.node.hostname}`.toLowerCase()));

    /** Following one of our own served plans would post every post again, forever. */
    const followsItself = (a: FollowAddress): boolean => {
      const local = new Set([
        'localhost',
        '127.0.0.1',
        '::1',
        ctx.node.hostname.toLowerCase(),
        cfg.listen.host.toLowerCase(),
      ]);
      return (
        a.port === at.port &&
        local.has(a.host.toLowerCase()) &&
        served().some((e) => e.target.toLowerCase() === a.user.toLowerCase())
      );
    };

    const fetchAndIngest = async (f: Follower, timeoutMs: number) => {
      const { user, host, port } = f.addr;
      const { text, truncated } = await fingerQuery(host, port, user, timeoutMs, ctx.signal);
      if (truncated) ctx.log.warn(`the plan of ${f.addr.address} is longer than 1 MiB; the rest was cut off`);
      const plan = readRemotePlan(text);
      if (plan.kind === 'none') throw new Error(plan.why);
      if (plan.kind === 'thimbl') {
        const key = `seen:${f.target}`;
        const seen = ctx.store.get<string[]>(key) ?? [];
        const seenSet = new Set(seen);
        let added = 0;
        try {
          for (const m of plan.plan.messages) {
            const address = m.address ?? plan.plan.address ?? `${user}@${host}`;
            const id = thimblMessageId(address, m, address.slice(address.lastIndexOf('@') + 1) || host);
            if (seenSet.has(id)) continue;
            if (ownAddresses().has(address.toLowerCase())) {
              // Our own plan, relayed back by a node that follows us: never post it again (loop guard).
              seen.push(id);
              seenSet.add(id);
              added++;
              continue;
            }
            const v = await ctx.ingest({
              target: f.target,
              author: {
                name:
                  clean(plan.plan.name ?? user, 'utf-8')
                    .replace(/\s+/g, ' ')
                    .trim() || user,
                address,
                via: 'finger',
              },
              body: clean(m.text, 'utf-8'),
              kind: 'message',
              id,
              date: m.date,
            });
            if (v.status === 'tempfail')
              throw new Error(`the store did not take a message now (${v.reason}); trying again at the next poll`);
            if (v.status === 'rejected')
              ctx.log.warn({ id }, `a message of ${f.addr.address} was refused: ${v.reason}`);
            seen.push(id);
            seenSet.add(id);
            added++;
          }
        } finally {
          if (added) ctx.store.set(key, seen.slice(-SEEN_IDS));
        }
        return;
      }
      const key = `plans:${f.target}`;
      const hashes = ctx.store.get<string[]>(key) ?? [];
      const change = planChange(hashes, plan.text);
      if (!change) return;
      const v = await ctx.ingest({
        target: f.target,
        author: { name: user, address: `${user}@${host}`, via: 'finger' },
        subject: `Plan of ${user}@${host}`,
        body: plan.text,
        kind: 'plan',
        id: planTextId(`${user}@${host}`, plan.text, host),
        date: new Date(),
      });
      if (v.status === 'tempfail')
        throw new Error(`the store did not take the plan now (${v.reason}); trying again at the next poll`);
      if (v.status === 'rejected') ctx.log.warn(`the plan of ${f.addr.address} was refused: ${v.reason}`);
      ctx.store.set(key, [...hashes, change.hash].slice(-SEEN_PLANS));
    };

    /** Start pollers for new follow endpoints, stop those that left the config. */
    const reconcile = () => {
      const want = new Map(
        ctx
          .endpoints()
          .filter(isFollow)
          .map((e) => [e.target, e]),
      );
      for (const [t, f] of followers) {
        if (!want.has(t)) {
          clearTimeout(f.timer);
          followers.delete(t);
        }
      }
      for (const [t, e] of want) {
        if (followers.has(t)) continue;
        const problem = endpointProblem(e);
        if (problem) {
          ctx.log.error(`${problem}; not following it`);
          continue;
        }
        const addr = parseFollow(t.slice(FOLLOW_PREFIX.length));
        if (typeof addr === 'string') continue;
        if (followsItself(addr)) {
          ctx.log.error(
            `endpoint ${e.key} follows a plan this account serves itself: every post would come back as a new one, forever; not following it`,
          );
          continue;
        }
        const f: Follower = { target: t, addr, failures: 0, busy: false };
        followers.set(t, f);
        schedule(f, 0);
      }
      report();
    };
    reconcile();
    const watch = setInterval(reconcile, 5_000);
    watch.unref?.();
    ctx.onClose(() => {
      clearInterval(watch);
      for (const f of followers.values()) clearTimeout(f.timer);
    });

    return {
      async reload(next) {
        // The core hands over the block already validated (durations in ms, listen parsed).
        const n = next as Config;
        // The listener's guards are fixed when it is made; those keys restart the account.
        const fixed = ['listen', 'idleTimeout', 'rateLimit', 'maxClients'] as const;
        if (reloadPlan(cfg, n, { restartOn: fixed }) === 'restart') return 'restart';
        cfg = n;
        planCache.clear();
        return 'applied';
      },
      async deliver(_post, to) {
        // A served plan is rendered from the store at query time: nothing to do now.
        if (to.target.startsWith(FOLLOW_PREFIX))
          return failed(
            `${to.endpoint} follows a remote plan and only feeds the bridge (make it direction: in)`,
            'misconfigured',
          );
        return delivered();
      },
    };
  },
});
