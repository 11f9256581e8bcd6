/**
 * Peering with a news server (an account with server:): each endpoint names
 * a newsgroup there. Out: POST (or IHAVE) with our Message-ID and References.
 * In: poll with GROUP and OVER from the stored high-water mark, fetch new
 * articles with ARTICLE, ingest them. One connection, reconnected with backoff.
 */
import { readFileSync } from 'node:fs';
import {
  Backoff,
  delivered,
  failed,
  formatAddress,
  retry,
  spread,
  type AccountHandle,
  type DeliveryTarget,
  type Post,
  type PluginContext,
} from '../../src/plugin.js';
import { fromHeader, renderArticle } from './article.js';
import { webFileUrl } from './links.js';
import { NntpClient, NntpError, type Response } from './client.js';
import { readArticle } from './incoming.js';
import type { ServerConfig } from './schema.js';
import { header, oneLine } from './text.js';
import { cancelArticle, cancelKey, cancelLock, cancelTarget, injectingHost, keyOpens } from './cancel.js';

/** Store key of a group's high-water mark: the last article number looked at. */
const HW = (group: string) => `hw:${group}`;

/** A refusal that means "no such newsgroup here" (INN: `441 No valid newsgroups in "x"`). */
const NO_GROUP = /no valid newsgroups|no such (news)?group|not in active|unknown (news)?group/i;
const NO_GROUP_RETRY_MS = 5 * 60_000;

/** The wait after a connection's first failure; it doubles up to maxBackoff. */
const FIRST_BACKOFF_MS = 1000;

/** A refusal that means "the server already has this article". */
const DUPLICATE = /\b435\b|duplicate|already have/i;

/** Our post as an article for the peer: no Xref or Injection-Date (the server adds its own), our host in Path. */
export function peerArticle(
  post: Post,
  group: string,
  hostname: string,
  fileUrl?: (n: number) => string | undefined,
  lock?: string,
): string {
  const a = renderArticle(post, { hostname, group, number: 0, ...(fileUrl ? { fileUrl } : {}) });
  // INN wants a dotted domain in From: an author without an address is name@HOST.invalid there.
  const headers = a.headers
    .filter(([n]) => n !== 'Xref' && n !== 'Injection-Date')
    .map(([n, v]): [string, string] => (n === 'From' ? [n, fromHeader(post.author, `${hostname}.invalid`)] : [n, v]));
  if (lock) headers.push(['Cancel-Lock', `sha256:${lock}`]);
  return `${headers.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n${a.body.join('\r\n')}`;
}

/** What an answer to POST/IHAVE (after the article, or instead of taking it) means for the outbox. */
export function postOutcome(r: Response, feed: 'post' | 'ihave') {
  const why = `${feed === 'post' ? 'POST' : 'IHAVE'}: the server answered "${oneLine(r.line).slice(0, 200)}"`;
  if (r.code === 240 || r.code === 235) return delivered();
  if (r.code === 435) return delivered(); // IHAVE: not wanted, the server has it
  if ((r.code === 441 || r.code === 437) && DUPLICATE.test(r.line)) return delivered();
  if (r.code === 436 || r.code === 400 || r.code === 403) return retry(why);
  // The group is not there (yet): a config problem, or a group the server's admin has still to create. Try again slowly.
  if (r.code === 441 && NO_GROUP.test(r.line))
    return retry(
      `${why}: the newsgroup does not exist there (yet); trying again every ${NO_GROUP_RETRY_MS / 60_000} minutes`,
      NO_GROUP_RETRY_MS,
    );
  if (r.code === 480) return failed(`${why}: the server wants AUTHINFO; set user and password`, 'refused-by-peer');
  if (r.code === 440) return failed(`${why}: posting is not allowed for this account there`, 'refused-by-peer');
  if (r.code === 441 || r.code === 437) return failed(why, 'refused-by-peer');
  if (r.code === 500 || r.code === 502)
    return failed(
      `${why}${feed === 'ihave' ? ': the server does not take IHAVE from us (feed: post?)' : ''}`,
      'refused-by-peer',
    );
  return retry(why);
}

export async function startPeer(ctx: PluginContext<ServerConfig>): Promise<AccountHandle> {
  const cfg = ctx.config;
  const where = formatAddress(cfg.address.host, cfg.address.port);
  const me = ctx.node.hostname.toLowerCase();
  let stopped = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  const groups = new Map<string, { high: number; polled: number; fetched: number; problem?: string }>();
  /** The secret our Cancel-Lock keys are made from (cancel.ts): the same on every start of this node. */
  const lockSecret = ctx.secret('nntp.cancel-lock');
  // sendCancels: a removed post we sent to a group here (it did not come from here) gets a cancel there.
  ctx.onRemoved((removed) => {
    if (!cfg.sendCancels) return;
    for (const r of removed) {
      if (r.post.origin?.account === ctx.account) continue;
      for (const e of ctx.endpoints())
        if (e.bridge === r.bridge && e.direction !== 'in') ctx.store.set(`cancel:${r.id}\0${e.target}`, r.reason);
    }
    void sendCancels();
  });

  const tlsOptions = () => ({
    rejectUnauthorized: cfg.tlsVerify,
    ...(cfg.tlsCa ? { ca: readFileSync(cfg.tlsCa) } : {}),
  });

  /**
   * One connection to the server, opened when needed, and after a failure not
   * again before its backoff (the plugin API's Backoff: 1 s, doubling, up to maxBackoff).
   */
  class Link {
    client: NntpClient | undefined;
    private connecting: Promise<NntpClient> | undefined;
    private readonly backoff = new Backoff(() => ({ firstMs: FIRST_BACKOFF_MS, maxMs: cfg.maxBackoff }));
    notBefore = 0;
    lastError = '';
    constructor(
      readonly role: string,
      private readonly readerMode: boolean,
    ) {}

    drop(why: string) {
      this.client?.close();
      this.client = undefined;
      if (stopped) return;
      this.lastError = why;
      this.notBefore = Date.now() + this.backoff.fail();
      ctx.log.warn(
        { server: where, failures: this.failures, link: this.role },
        `news server ${where} (${this.role}): ${why}; trying again in ${Math.round((this.notBefore - Date.now()) / 1000)} s`,
      );
      report();
      if (this === inLink) schedulePoll(this.notBefore - Date.now());
      else setTimeout(() => ctx.resume(), this.notBefore - Date.now() + 50).unref();
    }

    /** Failures in a row since this link last connected. */
    get failures(): number {
      return this.backoff.failures;
    }

    async get(): Promise<NntpClient> {
      if (this.client && !this.client.isClosed) return this.client;
      if (stopped) throw new Error('the account is stopping');
      if (Date.now() < this.notBefore)
        throw new Error(
          `not connected (${this.lastError}); next try in ${Math.round((this.notBefore - Date.now()) / 1000)} s`,
        );
      this.connecting ??= (async () => {
        try {
          const c = await NntpClient.connect({
            host: cfg.address.host,
            port: cfg.address.port,
            tls: cfg.tls,
            tlsOptions: tlsOptions(),
            ...(cfg.user !== undefined ? { user: cfg.user, password: cfg.password! } : {}),
            readerMode: this.readerMode,
            timeoutMs: cfg.timeout,
          });
          if (stopped) {
            c.close();
            throw new Error('the account is stopping');
          }
          this.client = c;
          ctx.log.info(
            { server: where, link: this.role, greeting: oneLine(c.greeting.line) },
            `connected to ${where}${this.failures ? ' again' : ''} (${this.role})`,
          );
          this.backoff.succeed();
          this.lastError = '';
          report();
          ctx.resume();
          return c;
        } catch (err) {
          this.drop((err as Error).message);
          throw err;
        } finally {
          this.connecting = undefined;
        }
      })();
      return this.connecting;
    }

    close() {
      this.client?.close();
      this.client = undefined;
    }
  }
  // A reader connection polls (and POSTs); with feed: ihave, our articles go by a feed connection of their own.
  const inLink = new Link(cfg.feed === 'ihave' ? 'reader' : 'reader and poster', true);
  const outLink = cfg.feed === 'ihave' ? new Link('IHAVE feed', false) : inLink;
  const links = [...new Set([inLink, outLink])];

  const report = () => {
    if (stopped) return;
    const gs = [...groups.entries()].map(([g, s]) => `${g}@${s.high}${s.problem ? ` (${s.problem})` : ''}`).join(', ');
    const down = links.find((l) => l.failures);
    if (down)
      ctx.setState(
        'retrying',
        `${where}: ${down.lastError}; next try in ${Math.max(0, Math.round((down.notBefore - Date.now()) / 1000))} s`,
      );
    else if (links.some((l) => l.client && !l.client.isClosed))
      ctx.setState('connected', `${where}${gs ? `; ${gs}` : ''}`);
    else ctx.setState('connecting', where);
  };

  /** Look for new articles in one group, fetch and ingest them. */
  const pollGroup = async (c: NntpClient, group: string) => {
    const state = groups.get(group) ?? { high: 0, polled: 0, fetched: 0 };
    groups.set(group, state);
    let g;
    try {
      g = await c.group(group);
    } catch (err) {
      if (err instanceof NntpError && err.code === 411) {
        if (state.problem !== 'no such group there')
          ctx.log.warn(
            { group },
            `${where} has no newsgroup ${group}: nothing to read there (check the endpoint's name)`,
          );
        state.problem = 'no such group there';
        return;
      }
      throw err;
    }
    delete state.problem;
    let hw = ctx.store.get<number>(HW(group));
    if (hw === undefined) {
      // First look at this group: start at its end, or backfill newest articles.
      hw = Math.max(g.low - 1, g.high - cfg.backfill, 0);
      ctx.store.set(HW(group), hw);
      ctx.log.info(
        { group, high: g.high, from: hw + 1 },
        `first look at ${group} on ${where}: ${cfg.backfill ? `taking up to ${cfg.backfill} recent articles` : `starting after article ${g.high}`}`,
      );
    }
    if (g.high < hw) {
      // The server's numbers went back (a rebuilt spool): start again at its end. Message-IDs keep out what we have.
      ctx.log.warn(
        { group, high: g.high, hw },
        `${group} on ${where} now ends at article ${g.high}, before ${hw} where we stopped: going on from ${g.high}`,
      );
      hw = g.high;
      ctx.store.set(HW(group), hw);
    }
    state.high = hw;
    state.polled = Date.now();
    if (g.high <= hw || g.count === 0) return;
    const high = Math.min(g.high, hw + cfg.batch);
    const rows = await c.over(Math.max(hw + 1, g.low), high);
    for (const row of rows) {
      if (stopped) return;
      const taken = await takeOne(c, group, row.number, row.id);
      if (!taken) return; // try again at the next poll, from this article
      ctx.store.set(HW(group), row.number);
      state.high = row.number;
    }
    ctx.store.set(HW(group), high);
    state.high = high;
  };

  /** One article: true when it is done with (ingested, or skipped for a reason), false to try it again later. */
  const takeOne = async (c: NntpClient, group: string, number: number, id: string): Promise<boolean> => {
    // Ours (posted from here) or already here by another path: nothing to fetch.
    if (ctx.posts.get(id)) return true;
    const raw = await c.article(number, cfg.maxArticleSize);
    if (!raw) return true; // expired or cancelled since OVER
    const passOver = (why: string) => {
      ctx.log.warn({ group, number, id }, `article ${number} <${id}> in ${group} on ${where} is not relayed: ${why}`);
      return true;
    };
    if (raw === 'too big') return passOver(`it is larger than maxArticleSize (${cfg.maxArticleSize} octets)`);
    const a = readArticle(raw);
    if (typeof a === 'string') return passOver(a);
    if (a.path.some((p) => p.toLowerCase() === me)) {
      ctx.log.debug({ group, number, id }, `article ${number} in ${group} came from here (Path holds ${me}): skipped`);
      return true;
    }
    // Another peerpost node writes to this group: the core lets their digests take turns here, and what both
    // read here goes to a channel they share once.
    if (a.node && a.node !== me) ctx.peerNode(group, a.node);
    if (a.control) {
      const target = cancelTarget(header(a.parsed, 'Control'));
      if (!target) return passOver('a control message');
      return honourCancel(a, target, group, number);
    }
    if (typeof a.post.body !== 'string') return passOver(a.post.body.problem);
    const v = await ctx.ingest({
      ...a.post,
      body: a.post.body,
      target: group,
      id: a.id ?? id,
      hops: a.viaPeerpost ? 1 : 0,
    });
    switch (v.status) {
      case 'accepted': {
        ctx.store.ids.set(v.id, group, String(number));
        const lock = header(a.parsed, 'Cancel-Lock');
        if (lock && cfg.acceptCancels.length) ctx.store.set(`lock:${v.id}`, oneLine(lock).slice(0, 1000));
        (groups.get(group) ?? { fetched: 0 }).fetched++;
        ctx.log.info(
          { group, number, id: v.id },
          `article ${number} <${v.id}> from ${group} on ${where} taken into the bridge`,
        );
        return true;
      }
      case 'duplicate':
      case 'ignored':
        return true;
      case 'rejected':
        return passOver(v.reason);
      case 'tempfail':
        ctx.log.warn({ group, number }, `article ${number} in ${group} waits: ${v.reason}`);
        return false;
    }
  };

  /** A cancel read from the server: honoured per acceptCancels (and the article's Cancel-Lock), else passed over. */
  const honourCancel = (
    a: Exclude<ReturnType<typeof readArticle>, string>,
    target: string,
    group: string,
    n: number,
  ) => {
    const host = injectingHost(a.path);
    const trusted = cfg.acceptCancels.some((h) => h === '*' || h.toLowerCase() === host);
    const say = (why: string) => {
      ctx.log.info({ group, number: n, target, host }, `cancel of <${target}> from ${where} not honoured: ${why}`);
      return true;
    };
    if (!trusted)
      return say(
        cfg.acceptCancels.length
          ? `it was injected at ${host ?? 'an unnamed host'}, not in acceptCancels`
          : 'acceptCancels is empty',
      );
    if (!ctx.posts.get(target)) return true; // not held (or removed already)
    const lock = ctx.store.get<string>(`lock:${target}`);
    if (lock !== undefined && !keyOpens(header(a.parsed, 'Cancel-Key') ?? '', lock))
      return say('its Cancel-Key does not open the Cancel-Lock of the article');
    const r = ctx.remove([target], `cancelled on ${where} (injected at ${host})`, 'cancel');
    for (const p of r.removed)
      ctx.log.warn({ post: p.id, bridge: p.bridge, host }, `<${p.id}> removed: cancelled on ${where} by ${host}`);
    ctx.store.delete(`lock:${target}`);
    return true;
  };

  /** Cancels waiting to be posted (sendCancels): `cancel:ID\0GROUP` → the reason. */
  const sendCancels = async () => {
    const waiting = ctx.store.keys('cancel:');
    if (!waiting.length || stopped) return;
    let c: NntpClient;
    try {
      c = await inLink.get();
    } catch {
      return; // tried again after the next poll
    }
    for (const k of waiting) {
      if (stopped) return;
      const [id, group] = k.slice('cancel:'.length).split('\0') as [string, string];
      const text = cancelArticle({
        id,
        group,
        hostname: ctx.node.hostname,
        key: cancelKey(lockSecret, id),
        reason: ctx.store.get<string>(k) ?? 'removed',
      });
      try {
        const r = await c.post(text);
        if (r.code === 240 || r.code === 441) {
          ctx.store.delete(k);
          ctx.log.info(
            { id, group, answer: oneLine(r.line).slice(0, 120) },
            r.code === 240
              ? `cancel of <${id}> sent to ${group} on ${where}`
              : `cancel of <${id}> refused by ${where} for good (${oneLine(r.line).slice(0, 120)}); not sent again`,
          );
        }
      } catch (err) {
        inLink.drop((err as Error).message);
        return;
      }
    }
  };

  const pollAll = async () => {
    if (stopped) return;
    if (polling) {
      // A poll is running (waiting for a connection): look again after it, rather than losing this turn.
      schedulePoll(250);
      return;
    }
    polling = true;
    try {
      const wanted = [
        ...new Set(
          ctx
            .endpoints()
            .filter((e) => e.direction !== 'out')
            .map((e) => e.target),
        ),
      ];
      if (!wanted.length && outLink !== inLink) return; // a feed with nothing to read: its connection opens for the first post
      let c: NntpClient;
      try {
        c = await inLink.get(); // also when there is nothing to read: the status then tells whether the server is reachable
      } catch {
        // In its backoff (or just failed): look again when it is over.
        schedulePoll(Math.max(250, inLink.notBefore - Date.now()));
        return;
      }
      for (const g of wanted) {
        if (stopped) return;
        try {
          await pollGroup(c, g);
        } catch (err) {
          if (err instanceof NntpError) {
            ctx.log.warn({ group: g }, `polling ${g} on ${where}: ${err.message}`);
            const s = groups.get(g);
            if (s) s.problem = oneLine(err.line).slice(0, 80);
            continue;
          }
          inLink.drop((err as Error).message);
          return;
        }
      }
      if (cfg.acceptCancels.length && !stopped)
        await pollGroup(c, 'control.cancel').catch((err: Error) =>
          ctx.log.debug({ err }, `control.cancel on ${where}: ${err.message}`),
        );
      await sendCancels();
      report();
      // Spread (±10 %): nodes that read the same server (and were set in step by a shared event) do not poll in step.
      schedulePoll(spread(cfg.pollInterval));
    } finally {
      polling = false;
    }
  };

  function schedulePoll(ms: number) {
    if (stopped) return;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => void pollAll(), Math.max(0, ms));
  }

  ctx.onClose(() => {
    stopped = true;
    clearTimeout(pollTimer);
    for (const l of links) l.close();
  });

  report();
  schedulePoll(0);

  return {
    async reload() {
      return 'restart';
    },
    endpointsChanged() {
      schedulePoll(0);
    },
    /** Poll now (after a poll that is running), so a digest another node just posted is known before ours goes. */
    async refresh() {
      while (polling && !stopped) await new Promise((r) => setTimeout(r, 25));
      await pollAll();
    },
    async deliver(post: Post, to: DeliveryTarget) {
      let c: NntpClient;
      try {
        c = await outLink.get();
      } catch (err) {
        return retry(`${where}: ${(err as Error).message}`, Math.max(1000, outLink.notBefore - Date.now()));
      }
      try {
        // A resend after a lost answer: the server may have it already.
        // (IHAVE asks the same question itself.)
        if (cfg.feed === 'post' && (await c.has(post.id)) === true) return delivered();
        const text = peerArticle(
          post,
          to.target,
          ctx.node.hostname,
          (n) => webFileUrl(ctx, post.id, n),
          cancelLock(cancelKey(lockSecret, post.id)),
        );
        const r = cfg.feed === 'ihave' ? await c.ihave(post.id, text) : await c.post(text);
        const out = postOutcome(r, cfg.feed);
        if (out.result === 'delivered')
          ctx.log.info({ id: post.id, group: to.target }, `<${post.id}> sent to ${to.target} on ${where}`);
        return out;
      } catch (err) {
        outLink.drop((err as Error).message);
        return retry(`${where}: ${(err as Error).message}`);
      }
    },
  };
}
