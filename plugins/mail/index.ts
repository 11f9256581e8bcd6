/**
 * The mail plugin: every bridge's mail endpoint a real mailing list. People
 * subscribe and post by mail; posts from everywhere reach every subscriber.
 * See plugins/mail/README.md.
 *
 *   accounts:
 *     mail.lists: { domain: lists.example.org, listen: 127.0.0.1:2525, smtp: { host: 127.0.0.1, port: 25 } }
 *   bridges:
 *     commons:
 *       endpoints:
 *         - { endpoint: mail.lists/commons, owners: [alice@example.org] }   # commons@lists.example.org
 *
 * Receiving (this folder): an SMTP receiver for the list addresses only, the
 * double opt-in, posting policies, held posts, bounce scores, the CLI commands.
 * Sending (./outbound): ListSender to the smarthost, headers, DMARC, VERP, DSNs.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  definePlugin,
  formatAddress,
  mintId,
  reloadPlan,
  retry,
  type PluginContext,
  type EndpointView,
  type Post,
  type DeliveryTarget,
} from '../../src/plugin.js';
import { account, endpoint, type Config, type EndpointOptions } from './schema.js';
import { listAddresses, listNameProblem, normaliseAddress } from './lists.js';
import { ListStore } from './subscribe.js';
import { ListServer } from './listserv.js';
import { smtpReceiver } from './receive.js';
import { signPreferences, signUnsubscribe, verifyPreferences, verifyUnsubscribe } from './tokens.js';
import { commands, type MailHandleApi } from './commands.js';
import { ListSender, parseBounce, verpDecode } from './outbound/index.js';
import { AttachmentStore } from './attachments.js';
import type { Links, Recipient } from './outbound/types.js';
import { robotMailWaiting } from './waiting.js';
import { ProblemLog } from './problems.js';
import { mailLists, type ListAccount } from './weblists.js';
import { ModerationStore } from './bans.js';
import { Moderation, listModeration } from './moderate.js';
import { bansCommand } from './bans-command.js';
import type {
  AttachmentFiles,
  MemberPreferences,
  MemberSettingsChange,
  PreferencesInfo,
  PreferencesRefusal,
  PreferencesSaved,
  Unsubscribed,
  UnsubscribeInfo,
  UnsubscribeRefusal,
} from './services.js';
import { MemberStore } from './members.js';
import { Digests, DIGEST_DEFAULTS, type DigestOptions } from './digest.js';
import { fill, loadTemplates, type Templates } from './templates.js';
import type { Footer } from './outbound/headers.js';

export type { AttachmentFiles, KeptAttachment, Unsubscribed, UnsubscribeInfo, UnsubscribeRefusal } from './services.js';

/** What an endpoint of this plugin must satisfy, besides its schema. */
export function endpointProblem(
  e: Pick<EndpointView, 'key' | 'target' | 'direction' | 'options'>,
  where?: { configDir: string },
): string | undefined {
  const p = listNameProblem(e.target);
  if (p) return `endpoint ${e.key}: ${p}`;
  const o = e.options as EndpointOptions;
  if ((o.policy === 'announce' || o.policy === 'moderated') && !(o.owners ?? []).length)
    return `endpoint ${e.key}: policy "${o.policy}" needs owners (only owners post to an announce list, and a moderated list's posts wait for one): add owners: [you@example.org]`;
  // The list's templates, read as the start reads them, so that `peerpost check` finds a broken one too.
  if (o.templates && where) {
    try {
      loadTemplates(o.templates, where.configDir);
    } catch (err) {
      return `endpoint ${e.key}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

// ---- one-click unsubscribe, served by the web plugin (RFC 8058) ----
// Only one provider per service name: the first running mail account provides
// it and answers for every mail account (the token names its account).

interface Registered {
  ctx: PluginContext<Config>;
  info(list: string, address: string): UnsubscribeInfo | UnsubscribeRefusal;
  unsubscribe(list: string, address: string): Unsubscribed | UnsubscribeRefusal;
  preferences(list: string, address: string): PreferencesInfo | PreferencesRefusal;
  setPreferences(list: string, address: string, change: MemberSettingsChange): PreferencesSaved | PreferencesRefusal;
  files: AttachmentStore;
  lists: ListAccount;
  moderation: Moderation;
}
const registry = new Map<string, Registered>();
let provider: string | undefined;

/** A signed link's claim (verified with the secret of its purpose), or why it does nothing. */
function claimWith(
  token: unknown,
  purpose: 'unsubscribe' | 'preferences',
  verify: typeof verifyUnsubscribe,
): { reg: Registered; list: string; address: string } | UnsubscribeRefusal {
  const any = registry.values().next().value as Registered | undefined;
  if (!any)
    return {
      ok: false,
      code: 'unavailable',
      reason: 'the mailing lists are not running on this server; try again in a while',
    };
  const c = verify(any.ctx.secret(purpose), String(token ?? ''));
  if ('problem' in c) return { ok: false, code: 'invalid', reason: c.problem };
  const reg = registry.get(c.account);
  if (!reg) return gone(c.list);
  return { reg, list: c.list, address: c.address };
}
const claimOf = (token: unknown) => claimWith(token, 'unsubscribe', verifyUnsubscribe);
const gone = (list: string): UnsubscribeRefusal => ({
  ok: false,
  code: 'gone',
  reason: `the list ${list} is not served here any more`,
});

/** What the GET page shows; changes nothing. */
export function unsubscribeInfo(token: string): UnsubscribeInfo | UnsubscribeRefusal {
  const c = claimOf(token);
  return 'reg' in c ? c.reg.info(c.list, c.address) : c;
}
/** The RFC 8058 POST; unsubscribes at once (no confirmation: the signed token is the proof). */
export async function unsubscribe(token: string): Promise<Unsubscribed | UnsubscribeRefusal> {
  const c = claimOf(token);
  return 'reg' in c ? c.reg.unsubscribe(c.list, c.address) : c;
}

/** `mail.preferences`: a member's settings by the signed link of their footer. */
const preferencesClaim = (token: unknown): { reg: Registered; list: string; address: string } | PreferencesRefusal =>
  claimWith(token, 'preferences', verifyPreferences);
export const memberPreferences: MemberPreferences = {
  info(token) {
    const c = preferencesClaim(token);
    return 'reg' in c ? c.reg.preferences(c.list, c.address) : c;
  },
  async set(token, change) {
    const c = preferencesClaim(token);
    return 'reg' in c ? c.reg.setPreferences(c.list, c.address, change ?? {}) : c;
  },
};

/** `mail.attachments`: the kept files of posts in the store (the table is shared by every mail account of the node). */
export const attachmentFiles: AttachmentFiles = {
  kept: (postId) => {
    const reg = registry.values().next().value;
    return reg && reg.ctx.posts.get(postId) ? reg.files.kept(postId) : [];
  },
  file: (postId, n) => {
    const reg = registry.values().next().value;
    return reg && reg.ctx.posts.get(postId) ? reg.files.file(postId, n) : undefined;
  },
};

/** `mail.lists`: the web's list pages, over every running mail account. */
export const webLists = mailLists(() => [...registry.values()].map((r) => r.lists));
/** `mail.moderation`: held posts and bans of every running mail account's lists. */
const moderationService = listModeration(() => [...registry.values()].map((r) => r.moderation));

/** The first running mail account answers for every mail account (each service has one provider). */
function offerServices(): void {
  if (provider && registry.has(provider)) return;
  provider = undefined;
  for (const [name, reg] of registry) {
    try {
      reg.ctx.provide('mail.unsubscribe', { info: unsubscribeInfo, unsubscribe });
      reg.ctx.provide('mail.attachments', attachmentFiles);
      reg.ctx.provide('mail.lists', webLists);
      reg.ctx.provide('mail.moderation', moderationService);
      reg.ctx.provide('mail.preferences', memberPreferences);
      provider = name;
      reg.ctx.log.info(
        `${name} answers mail.unsubscribe, mail.attachments, mail.lists, mail.moderation and mail.preferences for every mail account`,
      );
      return;
    } catch (err) {
      reg.ctx.log.debug({ err }, 'mail.unsubscribe is provided by another account');
    }
  }
}

export default definePlugin<Config>({
  protocol: 'mail',
  style: 'article',
  // A member's post goes to every subscriber of its own list too: the core delivers it back through the outbox.
  echo: true,
  summary: 'mailing lists (SMTP in, a smarthost out): every bridge a list people subscribe to and post to by mail',
  account,
  endpoint,
  validateTarget: listNameProblem,
  validateEndpoint: endpointProblem,
  joinHint: (target, config, node) =>
    `${target}@${config.domain ?? node.hostname} (subscribe: ${target}-join@${config.domain ?? node.hostname})`,
  commands: [...commands, bansCommand],
  // Robot mail waits in this plugin's own queue (not the outbox): the core shows it everywhere through this.
  waiting: robotMailWaiting,
  provides: ['mail.unsubscribe', 'mail.attachments', 'mail.lists', 'mail.moderation', 'mail.preferences'],
  uses: [
    {
      service: 'web.links',
      optional: true,
      without: 'list mail goes out without a link to the archive and without a one-click unsubscribe link',
    },
  ],
  async start(ctx: PluginContext<Config>) {
    let cfg = ctx.config;
    for (const e of ctx.endpoints()) {
      const problem = endpointProblem(e);
      if (problem) throw new Error(problem);
    }
    const domain = (cfg.domain ?? ctx.node.hostname).toLowerCase();
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (cfg.tls) {
      try {
        tls = { cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) };
      } catch (err) {
        throw new Error(
          `account ${ctx.account}: cannot read the TLS certificate or key (${(err as Error).message}); fix tls.cert and tls.key, or leave tls out (no STARTTLS)`,
          { cause: err },
        );
      }
    }
    const store = new ListStore(ctx.store, ctx.account);
    const members = new MemberStore(ctx.store, ctx.account);
    const key = ctx.secret('unsubscribe');
    const tokenFor = (list: string, address: string) => signUnsubscribe(key, { account: ctx.account, list, address });
    const prefKey = ctx.secret('preferences');
    const preferencesFor = (list: string, address: string) =>
      signPreferences(prefKey, { account: ctx.account, list, address });
    // Each list's templates, read at start (a broken one stops the start, naming file and line) and on reload.
    const configDir = (() => {
      try {
        return dirname(ctx.status().config);
      } catch {
        return process.cwd();
      }
    })();
    const templateCache = new Map<string, { dir: string | undefined; t: Templates }>();
    const templatesOf = (list: string): Templates | undefined => {
      const e = ctx.endpoints().find((x) => x.target === list);
      if (!e) return undefined;
      const dir = (e.options as EndpointOptions).templates;
      const have = templateCache.get(list);
      if (have && have.dir === dir) return have.t;
      const t = loadTemplates(dir, configDir);
      templateCache.set(list, { dir, t });
      return t;
    };
    for (const e of ctx.endpoints()) {
      try {
        templatesOf(e.target);
      } catch (err) {
        throw new Error(`endpoint ${e.key}: ${(err as Error).message}`, { cause: err });
      }
    }
    const digestOptions = (list: string): DigestOptions | undefined => {
      const e = ctx.endpoints().find((x) => x.target === list);
      if (!e) return undefined;
      const o = (e.options as EndpointOptions).digest ?? {};
      return {
        hour: o.hour ?? DIGEST_DEFAULTS.hour,
        timezone: o.timezone ?? DIGEST_DEFAULTS.timezone,
        maxPosts: o.maxPosts ?? DIGEST_DEFAULTS.maxPosts,
        maxBytes: o.maxBytes ?? DIGEST_DEFAULTS.maxBytes,
      };
    };
    /** The web's links when the web plugin runs (archive, post, one-click unsubscribe, the list's preferences page); none otherwise. */
    const links = (bridge: string, list?: string): Links => {
      const f = ctx.service('web.links');
      if (!f) return {};
      try {
        const l = f();
        return {
          ...(l.archive(bridge) !== undefined ? { archive: l.archive(bridge) } : {}),
          post: (id) => l.post(id),
          unsubscribe: (t) => l.unsubscribe(t),
          ...(list !== undefined ? { preferences: (t: string) => l.preferences(bridge, list, t) } : {}),
        };
      } catch (err) {
        ctx.log.warn({ err }, `web.links failed; this mail goes out without web links: ${(err as Error).message}`);
        return {};
      }
    };

    const files = new AttachmentStore(ctx.store);
    const problems = new ProblemLog(ctx.store, ctx.account);
    const sender = new ListSender(ctx, cfg.smtp);
    ctx.onClose(() => sender.close());
    // Who gets a post as a message of its own: members in mode each (not digest, not nomail), and not its author when they turned ownposts off.
    const recipientsOf = (list: string, post: Post) => (): Recipient[] =>
      members
        .eachRecipients(list, post.author.address)
        .map((address) => ({ address, unsubscribeToken: tokenFor(list, normaliseAddress(address)) }));
    const modStore = new ModerationStore(ctx.store, ctx.account);
    /** The list's footer: the member's own unsubscribe and preferences links when the web serves them, else what to write where. */
    const footerOf = (list: string, l: Links, t: Templates | undefined): Footer | undefined => {
      if (!t || !t.footer.trim()) return undefined;
      const a = listAddresses(list, domain);
      const base = {
        list,
        post: a.post,
        request: a.request,
        leave: a.leave,
        owner: a.owner,
        description: ctx.endpoints().find((x) => x.target === list)?.description ?? '',
      };
      const perRecipient = l.unsubscribe !== undefined || l.preferences !== undefined;
      return {
        perRecipient,
        text(r) {
          const own = r ? normaliseAddress(r.address) : undefined;
          return fill(t.footer, {
            ...base,
            address: own ?? '',
            unsubscribe: own && l.unsubscribe ? l.unsubscribe(tokenFor(list, own)) : `send any mail to ${a.leave}`,
            preferences:
              (own && l.preferences?.(preferencesFor(list, own))) ||
              `write "help" to ${a.request} (set digest, set nomail, set ownposts off, show)`,
          });
        },
      };
    };
    const lists = new ListServer({
      account: ctx.account,
      domain: () => domain,
      endpoints: () => ctx.endpoints(),
      store,
      out: sender,
      ingest: (p) => ctx.ingest(p),
      log: ctx.log,
      parseBounce,
      verpDecode,
      settings: () => ({
        expireMs: cfg.subscription.expire,
        windowMs: cfg.subscription.window,
        bounces: cfg.bounces,
        heldExpireMs: cfg.held.expire,
      }),
      hostname: ctx.node.hostname,
      mintId: () => mintId(ctx.node.hostname),
      attachments: files,
      postExists: (id) => ctx.posts.get(id) !== undefined,
      maxSize: cfg.maxSize,
      problems,
      moderation: {
        notifyHeld: (...a) => moderation.notifyHeld(...a),
        mail: (...a) => moderation.mail(...a),
        banned: (...a) => moderation.banned(...a),
        expired: (h) => moderation.expired(h),
      },
      members,
      templates: (list) => {
        try {
          return templatesOf(list);
        } catch (err) {
          ctx.log.warn(
            { err, list },
            `the templates of ${list} cannot be used (the defaults are): ${(err as Error).message}`,
          );
          return undefined;
        }
      },
      digestHour: (list) => digestOptions(list)?.hour ?? DIGEST_DEFAULTS.hour,
      digestZone: (list) => digestOptions(list)?.timezone ?? DIGEST_DEFAULTS.timezone,
    });
    const moderation: Moderation = new Moderation({
      account: ctx.account,
      domain: () => domain,
      lists,
      store,
      mod: modStore,
      out: sender,
      log: ctx.log,
      key: ctx.secret('moderate'),
      accountBans: () => cfg.bans,
      windowMs: () => cfg.subscription.window,
      hostname: ctx.node.hostname,
    });
    const digests = new Digests({
      account: ctx.account,
      store: ctx.store,
      posts: ctx.posts,
      members,
      log: ctx.log,
      hostname: ctx.node.hostname,
      options: digestOptions,
      words(list) {
        const e = lists.endpoint(list);
        if (!e) return undefined;
        const a = listAddresses(list, domain);
        let t: Templates | undefined;
        try {
          t = templatesOf(list);
        } catch {
          t = undefined;
        }
        const archive = links(e.bridge).archive;
        return {
          name: list,
          address: a.post,
          description: e.description,
          footer: t
            ? fill(t['digest-footer'], {
                list,
                post: a.post,
                request: a.request,
                leave: a.leave,
                owner: a.owner,
                description: e.description,
              })
            : '',
          ...(archive ? { archive } : {}),
        };
      },
      enqueue: (list, to, raw) => {
        const e = lists.endpoint(list);
        if (!e) throw new Error(`${list} is no longer a list of ${ctx.account}`);
        sender.queueDigest(lists.info(e), to, raw);
      },
    });
    // Digests whose hour has come go out; members whose nomail day has come get each post again.
    const digestTick = () => {
      try {
        const woke = members.wake();
        if (woke)
          ctx.log.info(
            { members: woke },
            `${woke} member${woke === 1 ? '' : 's'} back to each post (nomail until a day that has come)`,
          );
        digests.tick();
      } catch (err) {
        ctx.log.warn({ err }, `the digest timer failed (tried again in a minute): ${(err as Error).message}`);
      }
    };
    digestTick();
    const digestTimer = setInterval(digestTick, 60_000);
    digestTimer.unref();
    ctx.onClose(() => clearInterval(digestTimer));
    sender.onBounce = (e) => {
      lists
        .bounced(e.list, e.address, `${e.code} ${e.reason}`)
        .catch((err: Error) => ctx.log.error({ err }, `recording a bounce failed: ${err.message}`));
    };

    // A post removed from the archive takes its kept files with it (every mail account erases: the table is shared).
    ctx.onRemoved((removed) => {
      let n = 0;
      for (const r of removed) if (r.post.attachments.length > 0) n += files.erase(r.id);
      if (n > 0) ctx.log.info({ files: n }, `${n} kept attachment${n === 1 ? '' : 's'} of removed posts erased`);
    });
    // Expired confirmations and old notice marks go away now and then; so do files past keepAttachments and those of posts never committed (a crash).
    const sweepFiles = () => {
      try {
        const r = files.sweep((id) => ctx.posts.get(id) !== undefined, cfg.keepAttachments);
        if (r.orphans || r.expired)
          ctx.log.info(
            r,
            `attachments dropped: ${r.expired} past keepAttachments, ${r.orphans} of posts never committed`,
          );
      } catch (err) {
        ctx.log.warn({ err }, `sweeping kept attachments failed (tried again in an hour): ${(err as Error).message}`);
      }
    };
    const expireHeld = () => {
      lists
        .expireHeld()
        .catch((err: Error) =>
          ctx.log.warn({ err }, `expiring held posts failed (tried again in an hour): ${err.message}`),
        );
    };
    store.purgeExpired(Date.now(), cfg.subscription.window);
    problems.purge();
    sweepFiles();
    expireHeld();
    const purge = setInterval(() => {
      store.purgeExpired(Date.now(), cfg.subscription.window);
      problems.purge();
      // Decisions are kept a while after their held post could have expired, so a replayed notice is told who decided.
      modStore.purge(Date.now() - Math.max(cfg.held.expire, 14 * 86_400_000) - 30 * 86_400_000);
      sweepFiles();
      expireHeld();
    }, 3_600_000);
    purge.unref();
    ctx.onClose(() => clearInterval(purge));

    // Registered before provide(): hooks run in reverse, so this one runs after the core has
    // withdrawn this account's services, and another mail account can take them over.
    ctx.onClose(() => {
      registry.delete(ctx.account);
      if (provider === ctx.account) {
        provider = undefined;
        offerServices();
      }
    });
    registry.set(ctx.account, {
      ctx,
      info(list, address) {
        const e = lists.endpoint(list);
        if (!e) return gone(list);
        return {
          ok: true,
          account: ctx.account,
          list,
          address,
          listAddress: lists.info(e).address,
          description: e.description,
          subscribed: store.member(list, address) !== undefined,
        };
      },
      unsubscribe(list, address) {
        const e = lists.endpoint(list);
        if (!e) return gone(list);
        const removed = store.remove(list, address);
        if (removed) ctx.log.info({ list, address }, `${address} unsubscribed from ${list} (one-click)`);
        return { ok: true, list, address, listAddress: lists.info(e).address, unsubscribed: removed };
      },
      preferences(list, address) {
        const e = lists.endpoint(list);
        if (!e) return gone(list);
        if (!store.member(list, address))
          return { ok: false, code: 'not-member', reason: `${address} is not subscribed to ${list} (any more)` };
        return {
          ok: true,
          account: ctx.account,
          list,
          address,
          listAddress: lists.info(e).address,
          description: e.description,
          settings: members.get(list, address),
          digestHour: digestOptions(list)?.hour ?? DIGEST_DEFAULTS.hour,
          digestZone: digestOptions(list)?.timezone ?? DIGEST_DEFAULTS.timezone,
          unsubscribeToken: tokenFor(list, address),
        };
      },
      setPreferences(list, address, change) {
        const e = lists.endpoint(list);
        if (!e) return gone(list);
        if (!store.member(list, address))
          return { ok: false, code: 'not-member', reason: `${address} is not subscribed to ${list} (any more)` };
        const r = members.set(list, address, change);
        if ('problem' in r) return { ok: false, code: 'bad-settings', reason: r.problem };
        if (r.changed)
          ctx.log.info({ list, address, settings: r.settings }, `${address} changed their settings on ${list} (web)`);
        return {
          ok: true,
          list,
          address,
          listAddress: lists.info(e).address,
          settings: r.settings,
          changed: r.changed,
        };
      },
      files,
      lists: {
        account: ctx.account,
        domain,
        log: ctx.log,
        server: lists,
        store,
        problems,
        members,
        role: (e, who) => moderation.role(e, who),
      },
      moderation,
    });
    offerServices();

    const server = smtpReceiver(
      {
        name: domain,
        maxSize: cfg.maxSize,
        maxRecipients: cfg.maxRecipients,
        clients: cfg.limits.clients,
        perClient: cfg.limits.perClient,
        messages: cfg.limits.messages,
        perMs: cfg.limits.per,
        exempt: cfg.limits.exempt,
        idleTimeoutMs: cfg.idleTimeout,
        ...(tls ? { tls } : {}),
      },
      lists,
      ctx.log,
    );
    const at = await ctx.listen(server.server, cfg.listen);
    ctx.onClose(() => new Promise<void>((r) => server.close(() => r())));
    ctx.setState('listening', `${formatAddress(cfg.listen.host, at.port)} for ${domain}`);
    ctx.log.info(
      { domain, port: at.port, lists: ctx.endpoints().map((e) => e.target) },
      `mail lists on ${domain} listening on port ${at.port}`,
    );

    const mail: MailHandleApi = {
      approve: (id) => lists.approve(id),
      reject: (id, reason) => lists.reject(id, reason),
      moderation,
    };

    return {
      mail,
      /** subscription and bounces apply in place; anything about the listener or the smarthost restarts the account. */
      async reload(next) {
        const n = next as unknown as Config; // validated by the core with this plugin's schema
        const inPlace = ['subscription', 'bounces', 'keepAttachments', 'held', 'bans'] as const;
        if (reloadPlan(cfg, n, { inPlace }) === 'restart') return 'restart';
        cfg = n;
        return 'applied';
      },
      async deliver(post: Post, to: DeliveryTarget) {
        const e = lists.endpoint(to.target) ?? ctx.endpoints().find((x) => x.key === to.endpoint);
        const info = e
          ? lists.info(e)
          : lists.info({
              key: to.endpoint,
              target: to.target,
              bridge: to.bridge,
              direction: 'out',
              options: to.options,
              description: '',
            });
        // Into the list's open digest first (committed before the answer: a retry adds it no second time).
        try {
          digests.add(to.target, post);
        } catch (err) {
          return retry(`the post could not be added to the digest of ${to.target}: ${(err as Error).message}`);
        }
        const l = links(to.bridge, to.target);
        let t: Templates | undefined;
        try {
          t = templatesOf(to.target);
        } catch (err) {
          ctx.log.warn(
            { err },
            `the templates of ${to.target} cannot be used (the default footer is): ${(err as Error).message}`,
          );
        }
        const footer = footerOf(to.target, l, t ?? loadTemplates(undefined, configDir));
        return sender.deliverPost(
          post,
          to,
          { ...info, ...(footer ? { footer } : {}) },
          recipientsOf(to.target, post),
          l,
          () => files.files(post.id),
        );
      },
    };
  },
});
