/**
 * The core: ingest (dedup, loop guard, bridge filters, routing, one store
 * transaction shared by the posts of one turn: group commit). What a committed
 * post goes on to is not the core's: its deliveries are the outbox's rows
 * (written through a DeliveryQueue in the same transaction), its digest lines
 * the digest keeper's (src/digest/keeper.ts, through a DigestBuffer), and the
 * post listeners are told after the commit.
 */
import type { Logger } from 'pino';
import type { PeerpostConfig, Style } from '../config/types.js';
import type { IncomingPost, Post, StoredPost } from '../post.js';
import { POST_KINDS, bareId, idProblem, mintId, normaliseBody } from '../post.js';
import type { IngestVerdict, PostListenOptions } from '../plugin.js';
import type { Router, RoutePlan, Route } from './router.js';
import { Store, isTemporaryStoreError, describeStoreError } from '../store.js';
import { PostListeners } from './post-listeners.js';

/** A group commit this long after the last one is "idle": it runs at once (a microtask), not a loop turn later. */
const IDLE_MS = 10;
/**
 * PostgreSQL's ingest lane: group commits under way at once (one running, one queued behind it on the connection),
 * and the fewest posts that go there: a batch of 2 × LANE_SPLIT_MIN or more finding the lane idle (split in two),
 * LANE_SPLIT_MIN or more behind one under way; fewer are committed on the store's connection. The core's ingest of
 * bench/core.ts on PostgreSQL, 64 senders, 15 runs each in turn: 6,236 posts/s one group commit at a time on the
 * store's connection, 7,069 on the lane two at a time; on the lane one at a time, no faster than on the store's
 * connection (the senders all wait for the one under way, so nothing is taken meanwhile); halves of 8 as of 16. At
 * 1,000 posts/s (batches of a few) the lane doubled the p99 of ingest→deliver (17 → 53 ms, 4 runs each in turn): there
 * the store's connection keeps them.
 */
const LANE_DEPTH = 2;
const LANE_SPLIT_MIN = 16;

export interface IngestStats {
  accepted: number;
  duplicate: number;
  ignored: number;
  rejected: number;
  tempfail: number;
}

interface PendingPost {
  post: Post;
  plan: RoutePlan;
  account: string;
  /** false: stored only (an imported post): no outbox row, no digest line, no post listener told. */
  deliver: boolean;
  /** From an old archive (`peerpost import`): placed by its date in the archive (Store.insertPost). */
  imported: boolean;
  /** Whether the post is held or removed already is asked in the commit's transaction (prepare: `check`). */
  check: boolean;
  resolve: (v: IngestVerdict) => void;
}

/** What writing a post gave: its seq; undefined when held already; a verdict (held or removed); the error. */
type Written = number | undefined | IngestVerdict | Error;

/** A pending post as Store.ingestPosts takes it. */
const ingestItem = (i: PendingPost) => ({
  post: i.post,
  imported: i.imported,
  routes: i.plan.deliveries.map((r) => ({ endpoint: r.endpoint.key, shape: r.shape })),
});

/**
 * Where a committed post's deliveries go (the outbox: src/delivery/outbox.ts, outboxQueue). `enqueue` runs inside the
 * commit's transaction and writes one row per route; what it returns is called once the transaction has committed
 * (a rolled back commit never calls it), to start the deliveries.
 */
export interface DeliveryQueue {
  enqueue(post: Post, seq: number, routes: readonly Route[], now: number): () => void;
  /**
   * The same for rows the store wrote already, with the post (Store.ingestPosts: a group commit in one statement on
   * PostgreSQL): `rows` are their numbers, one per route in order. Absent: the core writes through enqueue.
   */
  written?(post: Post, seq: number, routes: readonly Route[], now: number, rows: readonly number[]): () => void;
  /**
   * Before the commit (a volatile post alone in it): have each chat endpoint that can say it now say it first
   * (AccountHandle.sayFirst). True when at least one did. Absent: nothing is said before the commit.
   */
  first?(post: Post, routes: readonly Route[]): boolean;
}

/** Where a committed chat line bound for a digest goes (the digest keeper: src/digest/keeper.ts). */
export interface DigestBuffer {
  /** Inside the commit's transaction: the post is a line of its bridge's open conversation. */
  buffer(post: Post, seq: number, now: number): void;
  /** After the commit, once every post of it is answered: the bridge's conversation has one more line. */
  grew(bridge: string, now: number): void;
}

/** What the core hands committed posts to. */
export interface CommitSinks {
  deliveries: DeliveryQueue;
  digests: DigestBuffer;
  /** Shared with the digest keeper, whose digests are committed posts too; the core makes its own when absent. */
  listeners?: PostListeners;
  /**
   * Where a post said first is written ahead (src/ingest/journal.ts: the daemon's, in the data directory), so that a
   * crash before its commit does not leave it in a few places only. Absent: nothing is said before its commit.
   */
  journal?: { note(post: Post): void };
}

export class Core {
  private closing = false;
  /** Posts checked and routed, waiting for the next group commit. */
  private readonly pending: PendingPost[] = [];
  private flushScheduled = false;
  /**
   * PostgreSQL's ingest lane (sendOnLane): group commits under way, the highest seq they gave, batches that failed
   * there (written again post by post once none is under way), and the end of the answers so far.
   */
  private readonly lane = {
    flying: 0,
    seq: 0,
    failed: [] as { batch: PendingPost[]; now: number; err: Error }[],
    answered: Promise.resolve() as Promise<unknown>,
  };
  /** performance.now() of the last group commit. */
  private lastFlush = -Infinity;
  /** Per origin account. */
  readonly stats = new Map<string, IngestStats>();
  private readonly deliveries: DeliveryQueue;
  private readonly digests: DigestBuffer;
  /** Told of every post after it is committed (ctx.onPost). */
  private readonly listeners: PostListeners;
  private readonly journal: CommitSinks['journal'];

  constructor(
    private readonly store: Store,
    private router: Router,
    private config: PeerpostConfig,
    sinks: CommitSinks,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.deliveries = sinks.deliveries;
    this.digests = sinks.digests;
    this.listeners = sinks.listeners ?? new PostListeners(log);
    this.journal = sinks.journal;
  }

  /** Call fn after commit for every accepted post, in commit order. Returns the way to stop. */
  onPost(fn: (post: StoredPost) => void, opts?: PostListenOptions): () => void {
    return this.listeners.add(fn, opts);
  }

  get hostname(): string {
    return this.config.node.hostname;
  }

  setRouting(router: Router, config: PeerpostConfig): void {
    this.router = router;
    this.config = config;
  }

  /** Refuse new posts from now on (shutdown): senders are told to try later. */
  close(): void {
    this.closing = true;
  }

  /** Once every post taken is committed and answered (none waiting, no group commit under way): before a shutdown. */
  async idle(): Promise<void> {
    while (this.lane.flying > 0 || this.pending.length > 0) {
      if (this.lane.flying > 0) await this.lane.answered;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * A post arriving at an account's target (a plugin's ingest). Resolves once
   * the post is committed (accepted) or refused. Posts that arrive in the same
   * turn of the event loop are committed together in one transaction (group
   * commit), in the order they arrived. When idle (no commit for IDLE_MS), the
   * commit runs as soon as the caller's synchronous code is done (posts it hands
   * over together still share it), not a loop turn later.
   */
  ingest(account: string, inc: IncomingPost): Promise<IngestVerdict> {
    const endpoint = this.router.endpointAt(account, inc.target);
    if (!endpoint)
      return this.done(account, {
        status: 'rejected',
        code: 'no-endpoint',
        reason: `${account}/${inc.target} is not an endpoint of any bridge`,
      });
    if (endpoint.direction === 'out')
      return this.done(account, {
        status: 'rejected',
        code: 'receive-only',
        reason: `${endpoint.key} only receives (direction: out); what arrives there is not relayed`,
      });
    return this.accept(account, endpoint.bridge, inc, endpoint.key, this.router.styleOf(account), true);
  }

  /**
   * A post injected into a bridge from outside any endpoint (peerpost post, peerpost import). With
   * `deliver: false` (an imported archive) the post is only stored: it joins the archive (web, search, the news
   * group's articles) but no endpoint is sent it, no digest takes it, and the post listeners (ctx.onPost: the
   * web's live stream, finger's followers) are not told. `imported` (peerpost import): the post takes its place in
   * the archive by its own date (Store.insertPost), and the live stream leaves it out even when delivered.
   */
  inject(
    bridge: string,
    inc: IncomingPost,
    via = 'cli',
    opts: { deliver?: boolean; imported?: boolean } = {},
  ): Promise<IngestVerdict> {
    if (!this.router.bridge(bridge))
      return this.done(via, { status: 'rejected', code: 'no-bridge', reason: `there is no bridge "${bridge}"` });
    return this.accept(via, bridge, inc, undefined, undefined, opts.deliver ?? true, opts.imported ?? false);
  }

  private done(account: string, v: IngestVerdict): Promise<IngestVerdict> {
    return Promise.resolve(this.count(account, v));
  }

  private accept(
    account: string,
    bridgeName: string,
    inc: IncomingPost,
    originEndpoint: string | undefined,
    style: Style | undefined,
    deliver: boolean,
    imported = false,
  ): Promise<IngestVerdict> {
    const v = this.prepare(account, bridgeName, inc, originEndpoint, style);
    if ('status' in v) return Promise.resolve(v);
    if (!deliver) v.plan = { deliveries: [], digest: [] };
    // Said first (docs/design.md): a post nothing can give again, alone in its commit (none waiting or under way),
    // is said in the chat places that can say it now before the commit, which would only delay the line. Written
    // ahead first (the journal), so that a crash before the commit does not leave it in those places only.
    if (
      inc.volatile &&
      this.journal &&
      this.config.node.durability !== 'power' &&
      deliver &&
      !imported &&
      v.plan.deliveries.length > 0 &&
      this.pending.length === 0 &&
      this.lane.flying === 0 &&
      this.deliveries.first
    ) {
      this.journal.note(v.post);
      if (this.deliveries.first(v.post, v.plan.deliveries) && (inc.id === undefined || inc.id.trim() === ''))
        inc.id = v.post.id; // handed again after a tempfail, it is the same post: not said twice
    }
    return new Promise((resolve) => {
      this.pending.push({ ...v, account, deliver, imported, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Idle (no commit in the last IDLE_MS): commit when the code that called us is done (a microtask), not a
        // loop turn later — a line relayed at a calm pace does not wait. Busy: wait for the turn, so that the posts
        // arriving in it share one transaction (group commit).
        if (performance.now() - this.lastFlush > IDLE_MS) queueMicrotask(() => this.flush());
        else setImmediate(() => this.flush());
      }
    });
  }

  /**
   * What is wrong with the ids minted here (a UUID, "@", node.hostname), or undefined: the UUID is always the same
   * shape, so only the hostname can make one unusable; asked once per hostname, not for every post (at a person's
   * pace the check cost an IRC line ~0.05 ms of its relay, issue 18).
   */
  private mintedProblem(): string | undefined {
    const hostname = this.hostname;
    if (this.minted?.hostname !== hostname) this.minted = { hostname, problem: idProblem(mintId(hostname)) };
    return this.minted.problem;
  }

  private minted: { hostname: string; problem: string | undefined } | undefined;

  /** Check and route a post; a verdict when it is refused here, else what to commit. */
  private prepare(
    account: string,
    bridgeName: string,
    inc: IncomingPost,
    originEndpoint: string | undefined,
    style: Style | undefined,
  ): IngestVerdict | { post: Post; plan: RoutePlan; check: boolean } {
    if (this.closing)
      return this.count(account, {
        status: 'tempfail',
        code: 'shutting-down',
        reason: 'peerpost is shutting down; try again in a moment',
      });
    const bridge = this.router.bridge(bridgeName)!;
    const minted = inc.id === undefined || inc.id.trim() === '';
    const id = minted ? mintId(this.hostname) : bareId(inc.id!);
    const problem = minted ? this.mintedProblem() : idProblem(id);
    if (problem) return this.count(account, { status: 'rejected', code: 'invalid', reason: problem });
    const hops = inc.hops ?? 0;
    if (!Number.isInteger(hops) || hops < 0)
      return this.count(account, {
        status: 'rejected',
        code: 'invalid',
        reason: `hops must be a whole number, got ${hops}`,
      });
    if (hops > this.config.node.maxHops)
      return this.count(account, {
        status: 'rejected',
        code: 'loop',
        reason: `the post crossed ${hops} relays (node.maxHops is ${this.config.node.maxHops}): refused as a probable loop`,
      });
    // A freshly minted id (a UUID) cannot be held yet: no lookup (an IRC line's relay latency). Else whether the post
    // is held or removed is asked in the commit's transaction (`check`: on SQLite a lookup on its own opens a read
    // transaction of its own, a tenth of a POST's time in the daemon, issue 19), before any other refusal below, so
    // that a post held already is answered as a duplicate whatever else is said of it. On PostgreSQL the group
    // commit's insert passes over a post held or removed itself (Store.seenAtInsert): no lookup (a round trip per
    // post); the reason is asked only of a post it did not insert (flush).
    const check = !minted && this.store.dialect === 'sqlite';
    const held = () => (minted ? undefined : this.heldVerdict(id));
    if (!minted && !check && !this.store.seenAtInsert) {
      const v = held();
      if (v) return this.count(account, v);
    }
    const refuse = (why: () => IngestVerdict): IngestVerdict => {
      const v = check ? held() : undefined;
      return v ? this.count(account, v) : why();
    };
    const kind = inc.kind ?? 'message';
    if (!POST_KINDS.includes(kind))
      return refuse(() =>
        this.count(account, { status: 'rejected', code: 'invalid', reason: `unknown post kind "${kind}"` }),
      );

    const nick = inc.author.name.toLowerCase();
    if (bridge.ignore.nicks.includes(nick))
      return refuse(() => this.ignore(account, id, `${inc.author.name} is in bridges.${bridgeName}.ignore.nicks`));
    let body = normaliseBody(inc.body);
    for (const re of bridge.ignore.patterns) {
      re.lastIndex = 0;
      if (re.test(body))
        return refuse(() => this.ignore(account, id, `the text matches bridges.${bridgeName}.ignore.patterns ${re}`));
    }
    for (const r of bridge.replace) body = body.replace(r.pattern, r.with);

    const date = inc.date === undefined ? new Date(this.now()) : new Date(inc.date);
    const post: Post = {
      id,
      bridge: bridgeName,
      origin: { account, target: inc.target },
      author: {
        name: inc.author.name || 'unknown',
        via: inc.author.via,
        ...(inc.author.address ? { address: inc.author.address } : {}),
        ...(inc.author.account ? { account: inc.author.account } : {}),
      },
      ...(inc.subject !== undefined && inc.subject !== '' ? { subject: inc.subject } : {}),
      body,
      kind,
      ...(inc.inReplyTo ? { inReplyTo: bareId(inc.inReplyTo) } : {}),
      references: (inc.references ?? []).map(bareId),
      hops,
      date: (Number.isNaN(date.getTime()) ? new Date(this.now()) : date).toISOString(),
      attachments: inc.attachments ?? [],
    };
    return { post, plan: this.router.plan(post, originEndpoint, style), check };
  }

  /** The verdict on a post whose id is held (a duplicate) or removed (its tombstone); undefined when it is neither. */
  private heldVerdict(id: string): IngestVerdict | undefined {
    return this.seenVerdict(id, this.store.seen(id));
  }

  /** The verdict on a post the store says is held or removed (Store.seen's answer); undefined when neither. */
  private seenVerdict(id: string, tomb: ReturnType<Store['seen']>): IngestVerdict | undefined {
    if (tomb === undefined) return undefined;
    if (tomb === 'held') return { status: 'duplicate', id };
    return {
      status: 'rejected',
      code: 'removed',
      reason: `${id} was removed from the archive (${tomb.cause === 'retention' ? 'older than the bridge keeps' : tomb.reason}); it does not come back`,
    };
  }

  /** Commit every post waiting since the last turn in one transaction, then answer each. */
  private flush(): void {
    this.flushScheduled = false;
    // Group commits under way on PostgreSQL's ingest lane: at most two (one running, one queued behind it); a batch
    // for the main connection (a digest line to write) waits until none is, so that commit order is answer order.
    if (this.lane.flying >= LANE_DEPTH || this.lane.failed.length > 0) return;
    if (this.lane.flying > 0 && (this.pending.length < LANE_SPLIT_MIN || !this.laneable(this.pending))) return;
    this.lastFlush = performance.now();
    const batch = this.pending.splice(0, this.pending.length);
    if (batch.length === 0) return;
    const now = this.now();
    // Many posts at once (the daemon busy): on the lane. The lane idle: two group commits, the second queued on the
    // connection behind the first, so that PostgreSQL goes on with it while this thread answers the first and takes
    // the next posts. A few (a person's pace, a moderate load): on the store's connection, as before the lane.
    if (
      (this.lane.flying > 0 || batch.length >= 2 * LANE_SPLIT_MIN) &&
      this.store.laneReady() &&
      this.laneable(batch)
    ) {
      if (this.lane.flying === 0) {
        const half = Math.ceil(batch.length / 2);
        this.sendOnLane(batch.slice(0, half), now);
        this.sendOnLane(batch.slice(half), now);
      } else this.sendOnLane(batch, now);
      return;
    }
    // What starts the deliveries of each item once committed (the outbox's, from enqueue).
    const started = new Map<PendingPost, () => void>();
    let seqs: Written[];
    try {
      seqs = this.write(batch, now, started);
    } catch (err) {
      started.clear(); // rolled back
      seqs = this.oneByOne(batch, now, started, err as Error);
    }
    this.settle(batch, seqs, started, now);
  }

  /**
   * Whether a batch can be one statement (Store.ingestPosts, on the ingest lane or the store's connection): PostgreSQL,
   * its outbox rows written with the posts, no digest line to write.
   */
  private laneable(batch: readonly PendingPost[]): boolean {
    return (
      this.deliveries.written !== undefined && this.store.seenAtInsert && !batch.some((i) => i.plan.digest.length > 0)
    );
  }

  /**
   * PostgreSQL: a batch committed on the store's ingest lane (Store.ingestPostsAsync), while this thread goes on
   * taking posts. The lane's statements run one after another on its connection, and their answers are handled in
   * that order (chained): posts are committed, answered and told in their order.
   */
  private sendOnLane(batch: PendingPost[], now: number): void {
    const written = this.deliveries.written!.bind(this.deliveries);
    const lane = this.lane;
    const sent: Promise<{ got?: ({ seq: number; rows: number[] } | undefined)[]; err?: Error }> = this.store
      .ingestPostsAsync(batch.map(ingestItem), now)!
      .then(
        (got) => ({ got }),
        (err: unknown) => ({ err: err as Error }),
      );
    lane.flying++;
    // Posts committed meanwhile on the main connection (a digest closing) are told in seq order with these.
    const release = this.listeners.hold();
    const answer = (r: Awaited<typeof sent>) => {
      lane.flying--;
      try {
        if (r.got) {
          const started = new Map<PendingPost, () => void>();
          const seqs = this.startWritten(batch, r.got, now, started, written);
          for (const q of seqs) if (q !== undefined && q > lane.seq) lane.seq = q;
          // Told in the turn they are answered, as after a commit on the main connection (the release).
          this.settle(batch, seqs, started, now);
        } else lane.failed.push({ batch, now, err: r.err! });
      } finally {
        release(lane.seq);
      }
      // Not committed (the statement is one transaction): once no other is under way (so that their posts come
      // first), one by one on the main connection, so that a post that cannot be written does not take the others
      // with it, and a lost connection is told as on SQLite.
      if (lane.flying === 0)
        for (const f of lane.failed.splice(0, lane.failed.length)) {
          const started = new Map<PendingPost, () => void>();
          this.settle(f.batch, this.oneByOne(f.batch, f.now, started, f.err), started, f.now);
        }
    };
    lane.answered = Promise.all([lane.answered, sent])
      .then(([, r]) => answer(r))
      .catch((err: unknown) => this.log.error({ err }, `answering a group commit failed: ${(err as Error).message}`))
      .finally(() => {
        if (this.pending.length > 0 && !this.flushScheduled) {
          // A turn later: the posts its answer brings back from their senders go in one batch.
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      });
  }

  /** Each post's seq from ingestPosts's answer, its deliveries' start kept in `started`. */
  private startWritten(
    items: PendingPost[],
    got: ({ seq: number; rows: number[] } | undefined)[],
    now: number,
    started: Map<PendingPost, () => void>,
    written: NonNullable<DeliveryQueue['written']>,
  ): (number | undefined)[] {
    return items.map((item, k) => {
      const g = got[k];
      if (!g) return undefined;
      if (item.plan.deliveries.length > 0)
        started.set(item, written(item.post, g.seq, item.plan.deliveries, now, g.rows));
      return g.seq;
    });
  }

  /**
   * Write a batch on the main connection. PostgreSQL, no digest line to write: the posts and their outbox rows in
   * one statement, one round trip (Store.ingestPosts); else in a transaction, the outbox rows written together at its
   * end (Store.batch).
   */
  private write(items: PendingPost[], now: number, started: Map<PendingPost, () => void>): Written[] {
    if (this.laneable(items)) {
      const got = this.store.ingestPosts(items.map(ingestItem), now);
      if (got) return this.startWritten(items, got, now, started, this.deliveries.written!.bind(this.deliveries));
    }
    return this.store.transaction(() =>
      this.store.batch(() => {
        const refused = items.map((i) => (i.check ? this.heldVerdict(i.post.id) : undefined));
        const fresh = items.filter((_, k) => refused[k] === undefined);
        const inserted = this.store.insertPosts(
          fresh.map((i) => ({ post: i.post, imported: i.imported })),
          now,
        );
        let f = 0;
        return items.map((item, k): Written => {
          if (refused[k]) return refused[k];
          const { post, plan } = item;
          const seq = inserted[f++];
          if (seq === undefined) return undefined;
          if (plan.deliveries.length > 0) started.set(item, this.deliveries.enqueue(post, seq, plan.deliveries, now));
          if (plan.digest.length > 0) this.digests.buffer(post, seq, now);
          return seq;
        });
      }),
    );
  }

  /** A batch whose commit failed (`err`), written again one post at a time: one that cannot be written fails alone. */
  private oneByOne(batch: PendingPost[], now: number, started: Map<PendingPost, () => void>, err: Error): Written[] {
    if (batch.length === 1) return [err];
    return batch.map((item) => {
      try {
        return this.write([item], now, started)[0];
      } catch (e) {
        return e as Error;
      }
    });
  }

  /** Answer each post of a batch written (its seq, or why not), tell the listeners, start its deliveries. */
  private settle(batch: PendingPost[], seqs: Written[], started: Map<PendingPost, () => void>, now: number): void {
    const touched: string[] = [];
    batch.forEach((item, i) => {
      const seq = seqs[i];
      const { post, plan, account } = item;
      if (seq instanceof Error) {
        const e = describeStoreError(seq, this.store.file);
        const temporary = isTemporaryStoreError(seq);
        this.log.error(
          { err: seq, post: post.id },
          `a post could not be stored; the sender is told ${temporary ? 'to try later' : 'it failed'}: ${e.message}`,
        );
        item.resolve(
          this.count(
            account,
            temporary
              ? {
                  status: 'tempfail',
                  code: e.code === 'SQLITE_FULL' ? 'store-full' : 'store-unavailable',
                  reason: e.message,
                }
              : { status: 'tempfail', code: 'store-failed', reason: `the store failed: ${e.message}` },
          ),
        );
        return;
      }
      if (seq === undefined) {
        // Not inserted: held already (or given twice in this batch), or removed (seenAtInsert: not asked before).
        let tomb: ReturnType<Store['seen']> = 'held';
        if (this.store.seenAtInsert)
          try {
            tomb = this.store.seen(post.id) ?? 'held';
          } catch (err) {
            // Not stored, and the store cannot say why now: the sender tries again later and hears it then.
            const e = describeStoreError(err, this.store.file);
            item.resolve(this.count(account, { status: 'tempfail', code: 'store-unavailable', reason: e.message }));
            return;
          }
        item.resolve(this.count(account, this.seenVerdict(post.id, tomb)!));
        return;
      }
      if (typeof seq !== 'number') {
        item.resolve(this.count(account, seq));
        return;
      }
      if (this.log.isLevelEnabled('debug'))
        this.log.debug(
          {
            account,
            post: post.id,
            bridge: post.bridge,
            to: plan.deliveries.map((d) => d.endpoint.key),
            digest: plan.digest.length > 0,
          },
          'post accepted',
        );
      started.get(item)?.();
      if (plan.digest.length > 0) touched.push(post.bridge);
      item.resolve(this.count(account, { status: 'accepted', id: post.id, seq }));
      if (item.deliver) this.listeners.tell(post, seq, now, item.imported);
      else this.listeners.passed(seq);
    });
    // After every post of the batch is told, so a digest this closes comes after them (commit order).
    for (const bridge of touched) this.digests.grew(bridge, now);
  }

  private ignore(account: string, id: string, reason: string): IngestVerdict {
    this.log.info({ account, post: id, reason }, `not relayed: ${reason}`);
    return this.count(account, { status: 'ignored', id, reason });
  }

  private count(account: string, v: IngestVerdict): IngestVerdict {
    let s = this.stats.get(account);
    if (!s) this.stats.set(account, (s = { accepted: 0, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 }));
    s[v.status]++;
    if (v.status === 'rejected') this.log.info({ account, reason: v.reason }, `refused a post: ${v.reason}`);
    return v;
  }
}
