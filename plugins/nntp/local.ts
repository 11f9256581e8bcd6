/**
 * The built-in news server (RFC 3977, AUTHINFO USER/PASS of RFC 4643): an
 * account with listen:. Every bridge with an endpoint of this account is a
 * newsgroup any newsreader can read and post to. See plugins/nntp/README.md.
 */
import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import {
  delivered,
  failed,
  formatAddress,
  reloadPlan,
  type AccountHandle,
  type ErrorCode,
  type Post,
  type PluginContext,
} from '../../src/plugin.js';
import { readArticle } from './incoming.js';
import type { ListenConfig } from './schema.js';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { nntpServers } from './server.js';
import type { Backend, GroupInfo, Received } from './session.js';
import { overviewLine, renderArticle } from './article.js';
import { webFileUrl } from './links.js';
import { GroupCounts } from './group-counts.js';
import { groupProblem, oneLine } from './text.js';

/** A group's count, lowest live number and highest number given (GROUP, LIST ACTIVE; plugins/nntp/group-counts.ts). */
const GROUP_MARKS = `SELECT COUNT(*) FILTER (WHERE removed = 0) AS n, MIN(number) FILTER (WHERE removed = 0) AS lo,
  MAX(number) AS hi FROM nntp_articles WHERE account = ? AND grp = ?`;

/** Article numbers of POSTed articles are stored together: after this many ms, or this many articles. */
const NUMBER_DELAY_MS = 20;
const NUMBER_BATCH = 256;

const MIGRATIONS = [
  `CREATE TABLE nntp_articles (
     account TEXT NOT NULL,
     grp TEXT NOT NULL,
     number INTEGER NOT NULL,
     post_id TEXT NOT NULL,
     added INTEGER NOT NULL,
     PRIMARY KEY (account, grp, number)
   );
   CREATE UNIQUE INDEX nntp_articles_by_post ON nntp_articles(account, post_id, grp);
   CREATE INDEX nntp_articles_by_added ON nntp_articles(account, added);
   CREATE TABLE nntp_groups (
     account TEXT NOT NULL,
     grp TEXT NOT NULL,
     created INTEGER NOT NULL,
     PRIMARY KEY (account, grp)
   );`,
  // The overview line (RFC 3977 8.3), rendered once when the number is given: OVER reads it as is.
  `ALTER TABLE nntp_articles ADD COLUMN overview TEXT;`,
  // A post removed from the archive keeps its number (numbers are never reused) but leaves OVER and LISTGROUP.
  `ALTER TABLE nntp_articles ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;`,
];

const isLoopback = (addr: string) => {
  const a = addr.replace(/^::ffff:/, '');
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
};

/** Check a password against a configured value, in constant time for equal-length work. */
export async function checkPassword(given: string, configured: string | undefined): Promise<boolean> {
  const m = configured ? /^scrypt\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(configured) : null;
  if (m) {
    const want = Buffer.from(m[2]!, 'base64');
    const got = await new Promise<Buffer>((res, rej) =>
      scrypt(given, Buffer.from(m[1]!, 'base64'), want.length, (e, k) => (e ? rej(e) : res(k))),
    );
    return got.length === want.length && timingSafeEqual(got, want);
  }
  // Plain (from ${ENV}) or an unknown user: compare digests, so the time does not depend on where they differ.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256')
    .update(configured ?? randomBytes(16).toString('hex'))
    .digest();
  return timingSafeEqual(a, b) && configured !== undefined;
}

/** "scrypt$SALT$HASH" for a password (what the README tells to put under users:). */
export function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(16);
  return new Promise((res, rej) =>
    scrypt(pw, salt, 32, (e, k) => (e ? rej(e) : res(`scrypt$${salt.toString('base64')}$${k.toString('base64')}`))),
  );
}

export async function startLocal(ctx: PluginContext<ListenConfig>): Promise<AccountHandle> {
  let cfg = ctx.config;
  if (cfg.posting.allow === 'authenticated' && Object.keys(cfg.users).length === 0)
    throw new Error(
      `account ${ctx.account}: posting.allow is "authenticated" but there are no users: add users, or choose another posting.allow`,
    );
  ctx.store.migrate(MIGRATIONS);
  let secureContext: SecureContext | undefined;
  let keyCert: { key: Buffer; cert: Buffer } | undefined;
  if (cfg.tls) {
    const read = (what: string, file: string) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new Error(`account ${ctx.account}: cannot read the TLS ${what} ${file}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    };
    // The files are read first (their own message), then made into a pair: each failure says what failed.
    keyCert = { cert: read('certificate', cfg.tls.cert), key: read('key', cfg.tls.key) };
    try {
      secureContext = createSecureContext(keyCert);
    } catch (err) {
      throw new Error(
        `account ${ctx.account}: the TLS certificate ${cfg.tls.cert} and key ${cfg.tls.key} do not make a usable pair: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  const acct = ctx.account;
  const q = {
    stats: ctx.store.prepare(GROUP_MARKS),
    // The same over the articles numbered after one (GroupCounts brings its marks up to date with it).
    statsSince: ctx.store.prepare(`${GROUP_MARKS} AND number > ?`),
    max: ctx.store.prepare('SELECT MAX(number) FROM nntp_articles WHERE account = ? AND grp = ?').pluck(),
    numberOf: ctx.store
      .prepare('SELECT number FROM nntp_articles WHERE account = ? AND post_id = ? AND grp = ?')
      .pluck(),
    insert: ctx.store.prepare(
      'INSERT INTO nntp_articles (account, grp, number, post_id, added, overview) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    overview: ctx.store.prepare(
      'SELECT number, overview, post_id AS id FROM nntp_articles WHERE account = ? AND grp = ? AND number BETWEEN ? AND ? AND removed = 0 ORDER BY number LIMIT 1000000',
    ),
    setOverview: ctx.store.prepare(
      'UPDATE nntp_articles SET overview = ? WHERE account = ? AND grp = ? AND number = ?',
    ),
    clearOverviews: ctx.store.prepare('UPDATE nntp_articles SET overview = NULL WHERE account = ?'),
    numbers: ctx.store
      .prepare(
        'SELECT number FROM nntp_articles WHERE account = ? AND grp = ? AND number BETWEEN ? AND ? AND removed = 0 ORDER BY number LIMIT 1000000',
      )
      .pluck(),
    postAt: ctx.store.prepare('SELECT post_id FROM nntp_articles WHERE account = ? AND grp = ? AND number = ?').pluck(),
    byId: ctx.store.prepare('SELECT grp, number FROM nntp_articles WHERE account = ? AND post_id = ?'),
    since: ctx.store.prepare(
      'SELECT grp, post_id FROM nntp_articles WHERE account = ? AND added >= ? ORDER BY added, number',
    ),
    markRemoved: ctx.store.prepare(
      'UPDATE nntp_articles SET removed = 1, overview = NULL WHERE account = ? AND post_id = ?',
    ),
    addGroup: ctx.store.prepare('INSERT OR IGNORE INTO nntp_groups (account, grp, created) VALUES (?, ?, ?)'),
    groups: ctx.store.prepare('SELECT grp, created FROM nntp_groups WHERE account = ?'),
  };

  /**
   * The article number of a post in a group: the one it has, or the next one (numbers are never reused). `numberIn`
   * runs inside the caller's transaction (a batch of POSTs: no savepoint for each), `assign` in one of its own.
   */
  const numberIn = (group: string, postId: string, post?: Post): number => {
    const have = q.numberOf.get(acct, postId, group) as number | undefined;
    if (have !== undefined) return have;
    const n = ((q.max.get(acct, group) as number | null) ?? 0) + 1;
    const p = post ?? ctx.posts.get(postId);
    q.insert.run(acct, group, n, postId, Date.now(), p ? overviewOf(p, group, n) : null);
    return n;
  };
  const assign = (group: string, postId: string, post?: Post): number =>
    ctx.store.transaction(() => numberIn(group, postId, post));
  const overviewOf = (post: Post, group: string, n: number) =>
    overviewLine(
      renderArticle(post, {
        hostname: ctx.node.hostname,
        group,
        number: n,
        fileUrl: (i) => webFileUrl(ctx, post.id, i),
      }),
      n,
    );
  // A post removed from the archive: ARTICLE by its Message-ID answers 430 and by its number 423 (the post is
  // gone from the store); here it leaves OVER/XOVER, LISTGROUP and the group's count, and keeps its number.
  const counts = new GroupCounts(acct, q.stats, q.statsSince);
  ctx.onRemoved((removed) => {
    ctx.store.transaction(() => {
      for (const r of removed) q.markRemoved.run(acct, r.id);
    });
    counts.forget();
  });
  // Overview lines hold the hostname (Xref): rendered again after it changed.
  if (ctx.store.get<string>('overviewHost') !== ctx.node.hostname) {
    q.clearOverviews.run(acct);
    ctx.store.set('overviewHost', ctx.node.hostname);
  }
  /** Number a post taken by POST and put it in the id map, inside the caller's transaction. */
  const recordIn = (group: string, postId: string, post?: Post) => {
    const n = numberIn(group, postId, post);
    ctx.store.ids.set(postId, group, String(n));
    return n;
  };
  /** The same in a transaction of its own. */
  const record = (group: string, postId: string, post?: Post) =>
    ctx.store.transaction(() => recordIn(group, postId, post));

  /*
   * Posts taken by POST get their numbers together, in one transaction, a
   * moment after their 240s (each post itself is committed before its 240):
   * within NUMBER_DELAY_MS, or at once when anyone reads the group, so a
   * reader never misses an article that was acknowledged. A number lost to a
   * crash is given at the next start.
   */
  // The post itself is kept (as committed): its overview line is rendered from it, not read back from the store.
  let toNumber: { group: string; id: string; post?: Post }[] = [];
  let numberTimer: NodeJS.Timeout | undefined;
  const flushNumbers = () => {
    if (!toNumber.length) return;
    clearTimeout(numberTimer);
    numberTimer = undefined;
    const batch = toNumber;
    toNumber = [];
    try {
      ctx.store.transaction(() => {
        for (const x of batch) recordIn(x.group, x.id, x.post);
      });
    } catch (err) {
      ctx.log.error(
        { err },
        `article numbers could not be stored now (${(err as Error).message}); they are given at the next start`,
      );
    }
  };
  // Posts of this account as committed (ctx.onPost tells them before ingest's caller resumes): numberSoon takes each.
  const committed = new Map<string, Post>();
  ctx.onPost((p) => {
    if (p.origin.account !== acct) return;
    if (committed.size >= 4 * NUMBER_BATCH) committed.clear(); // only ever left over by a POST that failed between
    committed.set(p.id, p);
  });
  const numberSoon = (group: string, id: string, post: Post | undefined) => {
    toNumber.push({ group, id, ...(post ? { post } : {}) });
    if (toNumber.length >= NUMBER_BATCH) flushNumbers();
    else numberTimer ??= setTimeout(flushNumbers, NUMBER_DELAY_MS);
  };
  ctx.onClose(flushNumbers);

  const endpoints = () => ctx.endpoints();
  const known = new Set<string>();
  const groupInfo = (e: ReturnType<typeof endpoints>[number], created: Map<string, number>): GroupInfo => {
    if (!known.has(e.target)) {
      q.addGroup.run(acct, e.target, Date.now());
      known.add(e.target);
    }
    const s = counts.marks(e.target);
    return {
      name: e.target,
      description: e.description,
      count: s.count,
      low: s.low ?? 1,
      high: s.high ?? 0,
      postable: e.direction !== 'out' && cfg.posting.allow !== 'none',
      created: created.get(e.target) ?? Date.now(),
    };
  };
  const createdMap = () =>
    new Map((q.groups.all(acct) as { grp: string; created: number }[]).map((r) => [r.grp, r.created]));
  // Record when each group first appeared (NEWGROUPS).
  for (const e of endpoints()) groupInfo(e, new Map());

  // A post taken by POST whose number was not yet recorded when the daemon stopped gets it now.
  for (const e of endpoints()) {
    for (const p of ctx.posts.latest(e.bridge, { limit: 2 * NUMBER_BATCH }).reverse())
      if (
        p.origin.account === acct &&
        p.origin.target === e.target &&
        q.numberOf.get(acct, p.id, e.target) === undefined
      )
        record(e.target, p.id);
  }

  const inGroups = (group: string) => endpoints().some((e) => e.target === group);

  /** Answers as to POST (240, 441, 403); IHAVE's answers are made from these by `transfer`. */
  /** An article sent by POST, or by IHAVE (`offered`: its Message-ID): what became of it (session.ts answers it). */
  const receive = async (raw: Buffer, who: { remote: string; user?: string }, offered?: string): Promise<Received> => {
    const refuse = (code: ErrorCode, reason: string): Received => ({ status: 'rejected', code, reason });
    const a = readArticle(raw);
    if (typeof a === 'string') return refuse('invalid', a);
    if (a.control) return refuse('not-allowed', 'control messages are not taken here');
    if (offered !== undefined && a.id !== undefined && a.id !== offered)
      return refuse(
        'invalid',
        `the article's Message-ID <${oneLine(a.id).slice(0, 250)}> is not the one offered, <${offered}>`,
      );
    const id = a.id ?? offered;
    const named = a.newsgroups;
    const foreign = named.filter((g) => !inGroups(g));
    if (!named.length || foreign.length)
      return refuse('no-endpoint', `not a newsgroup here: ${oneLine(foreign.join(', ') || '(none)').slice(0, 200)}`);
    const e = endpoints().find((x) => named.includes(x.target) && x.direction !== 'out');
    if (!e) return refuse('receive-only', `${named.join(', ')} ${named.length === 1 ? 'is' : 'are'} read-only here`);
    if (a.path.some((p) => p.toLowerCase() === ctx.node.hostname.toLowerCase()))
      return refuse('loop', `the Path already holds ${ctx.node.hostname}: this article came from here`);
    const hops = Math.max(0, a.path.length - 1);
    /**
     * An article we hold already: 441 (IHAVE 437), and when it came here by POST its number is given now if a crash
     * took it. Not looked up before the ingest (whose insert finds it: a lookup less per article, issue 19), but
     * before refusing an article for its body, so a duplicate is answered as one whatever its body.
     */
    const duplicate = (dup: string): Received => {
      const old = ctx.posts.get(dup);
      if (old && old.origin.account === acct && old.origin.target === e.target) record(e.target, dup);
      return refuse('duplicate', `duplicate: <${dup}> was posted already`);
    };
    const body = a.post.body;
    if (typeof body !== 'string')
      return id !== undefined && ctx.posts.get(id) ? duplicate(id) : refuse('invalid', body.problem);
    let v;
    try {
      v = await ctx.ingest({ ...a.post, body, target: e.target, ...(id ? { id } : {}), hops });
    } catch (err) {
      ctx.log.error({ err }, `ingest failed: ${(err as Error).message}`);
      return { status: 'tempfail', code: 'store-unavailable', reason: 'the article could not be stored now' };
    }
    switch (v.status) {
      case 'accepted': {
        const post = committed.get(v.id);
        committed.delete(v.id);
        numberSoon(e.target, v.id, post);
        if (ctx.log.isLevelEnabled('debug'))
          ctx.log.debug(
            { id: v.id, group: e.target, remote: who.remote, user: who.user },
            `article <${v.id}> posted to ${e.target}`,
          );
        return { status: 'taken', id: v.id };
      }
      case 'duplicate':
        return duplicate(v.id);
      case 'ignored':
        return { status: 'taken', note: `not relayed (${oneLine(v.reason)})` };
      case 'rejected':
      case 'tempfail':
        return { status: v.status, code: v.code, reason: v.reason };
    }
  };

  const backend: Backend = {
    hostname: ctx.node.hostname,
    fileUrl: (postId, n) => webFileUrl(ctx, postId, n),
    groups: () => {
      flushNumbers();
      const c = createdMap();
      return endpoints()
        .map((e) => groupInfo(e, c))
        .sort((x, y) => x.name.localeCompare(y.name));
    },
    group: (name) => {
      flushNumbers();
      const e = endpoints().find((x) => x.target === name);
      return e ? groupInfo(e, createdMap()) : undefined;
    },
    overview: (group, low, high) => {
      flushNumbers();
      if (!inGroups(group)) return [];
      const rows = q.overview.all(acct, group, low, Math.min(high, Number.MAX_SAFE_INTEGER)) as {
        number: number;
        overview: string | null;
        id: string;
      }[];
      const out: string[] = [];
      for (const r of rows) {
        if (r.overview !== null) {
          out.push(r.overview);
          continue;
        }
        const post = ctx.posts.get(r.id);
        if (!post) continue;
        const line = overviewOf(post, group, r.number);
        q.setOverview.run(line, acct, group, r.number);
        out.push(line);
      }
      return out;
    },
    numbers: (group, low, high) => {
      flushNumbers();
      return inGroups(group)
        ? (q.numbers.all(acct, group, low, Math.min(high, Number.MAX_SAFE_INTEGER)) as number[])
        : [];
    },
    article: (group, number) => {
      flushNumbers();
      const id = q.postAt.get(acct, group, number) as string | undefined;
      return id ? ctx.posts.get(id) : undefined;
    },
    byId: (id) => {
      flushNumbers();
      const groups = new Set(endpoints().map((e) => e.target));
      const row = (q.byId.all(acct, id) as { grp: string; number: number }[]).find((r) => groups.has(r.grp));
      const post = row ? ctx.posts.get(id) : undefined;
      return row && post ? { post, group: row.grp, number: row.number } : undefined;
    },
    newnews: (match, since) => {
      flushNumbers();
      const groups = new Set(
        endpoints()
          .map((e) => e.target)
          .filter(match),
      );
      const seen = new Set<string>();
      for (const r of q.since.all(acct, since) as { grp: string; post_id: string }[])
        if (groups.has(r.grp)) seen.add(r.post_id);
      return [...seen];
    },
    mayPost: (remote, user) => {
      const hasUsers = Object.keys(cfg.users).length > 0;
      switch (cfg.posting.allow) {
        case 'none':
          return 'no';
        case 'all':
          return 'yes';
        case 'authenticated':
          return user ? 'yes' : hasUsers ? 'after-auth' : 'no';
        case 'loopback':
          return user || isLoopback(remote) ? 'yes' : hasUsers ? 'after-auth' : 'no';
      }
    },
    hasUsers: () => Object.keys(cfg.users).length > 0,
    tls: secureContext !== undefined,
    isLoopback,
    authenticate: async (user, pass) => {
      const ok = await checkPassword(pass, Object.hasOwn(cfg.users, user) ? cfg.users[user] : undefined);
      if (!ok) {
        ctx.log.warn({ user: oneLine(user).slice(0, 64) }, 'AUTHINFO failed');
        await new Promise((r) => setTimeout(r, 500)); // slow down guessing
      }
      return ok;
    },
    receive,
    // A removed post (its tombstone) is not wanted either: IHAVE answers 435, and the peer stops offering it.
    has: (id) => ctx.posts.get(id) !== undefined || ctx.posts.removed(id) !== undefined,
    writable: () => ctx.storeWritable(),
  };

  const servers = nntpServers({
    idleTimeoutMs: cfg.idleTimeout,
    maxClients: cfg.maxClients,
    maxArticleSize: cfg.maxArticleSize,
    backend,
    ...(secureContext && keyCert ? { secureContext, keyCert } : {}),
    onError: (err) => ctx.log.error({ err }, `an NNTP command failed: ${err.message}`),
  });
  const at = await ctx.listen(servers.plain, cfg.listen);
  let detail = formatAddress(cfg.listen.host, at.port);
  if (servers.tls && cfg.tls) {
    const tlsAt = await ctx.listen(servers.tls, cfg.tls.listen);
    detail += ` (STARTTLS), TLS on ${formatAddress(cfg.tls.listen.host, tlsAt.port)}`;
  }
  ctx.setState('listening', detail);

  return {
    async reload(next) {
      // The core hands over the block already validated (durations in ms, listen parsed): do not parse it again.
      const n = next as ListenConfig;
      const fixed = ['listen', 'idleTimeout', 'maxClients', 'maxArticleSize', 'tls'] as const;
      if (reloadPlan(cfg, n, { restartOn: fixed }) === 'restart') return 'restart';
      if (n.posting.allow === 'authenticated' && Object.keys(n.users).length === 0) return 'restart';
      cfg = n;
      return 'applied';
    },
    async deliver(post: Post, to) {
      const problem = groupProblem(to.target);
      if (problem) return failed(problem, 'bad-target');
      return delivered(String(assign(to.target, post.id, post)));
    },
  };
}
