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
import {
  definePlugin,
  formatAddress,
  mintId,
  reloadPlan,
  type PluginContext,
  type EndpointView,
  type Post,
  type DeliveryTarget,
} from '../../src/plugin.js';
import { account, endpoint, type Config, type EndpointOptions } from './schema.js';
import { listNameProblem, normaliseAddress } from './lists.js';
import { ListStore } from './subscribe.js';
import { ListServer } from './listserv.js';
import { smtpReceiver } from './receive.js';
import { signUnsubscribe, verifyUnsubscribe } from './tokens.js';
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
import type { AttachmentFiles, Unsubscribed, UnsubscribeInfo, UnsubscribeRefusal } from './services.js';

export type { AttachmentFiles, KeptAttachment, Unsubscribed, UnsubscribeInfo, UnsubscribeRefusal } from './services.js';

/** What an endpoint of this plugin must satisfy, besides its schema. */
export function endpointProblem(e: Pick<EndpointView, 'key' | 'target' | 'direction' | 'options'>): string | undefined {
  const p = listNameProblem(e.target);
  if (p) return `endpoint ${e.key}: ${p}`;
  const o = e.options as EndpointOptions;
  if ((o.policy === 'announce' || o.policy === 'moderated') && !(o.owners ?? []).length)
    return `endpoint ${e.key}: policy "${o.policy}" needs owners (only owners post to an announce list, and a moderated list's posts wait for one): add owners: [you@example.org]`;
  return undefined;
}

// ---- one-click unsubscribe, served by the web plugin (RFC 8058) ----
// Only one provider per service name: the first running mail account provides
// it and answers for every mail account (the token names its account).

interface Registered {
  ctx: PluginContext<Config>;
  info(list: string, address: string): UnsubscribeInfo | UnsubscribeRefusal;
  unsubscribe(list: string, address: string): Unsubscribed | UnsubscribeRefusal;
  files: AttachmentStore;
  lists: ListAccount;
  moderation: Moderation;
}
const registry = new Map<string, Registered>();
let provider: string | undefined;

function claimOf(token: unknown): { reg: Registered; list: string; address: string } | UnsubscribeRefusal {
  const any = registry.values().next().value as Registered | undefined;
  if (!any)
    return {
      ok: false,
      code: 'unavailable',
      reason: 'the mailing lists are not running on this server; try again in a while',
    };
  const c = verifyUnsubscribe(any.ctx.secret('unsubscribe'), String(token ?? ''));
  if ('problem' in c) return { ok: false, code: 'invalid', reason: c.problem };
  const reg = registry.get(c.account);
  if (!reg) return gone(c.list);
  return { reg, list: c.list, address: c.address };
}
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
      provider = name;
      reg.ctx.log.info(
        `${name} answers mail.unsubscribe, mail.attachments, mail.lists and mail.moderation for every mail account`,
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
  provides: ['mail.unsubscribe', 'mail.attachments', 'mail.lists', 'mail.moderation'],
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
    const key = ctx.secret('unsubscribe');
    const tokenFor = (list: string, address: string) => signUnsubscribe(key, { account: ctx.account, list, address });
    /** The web's links when the web plugin runs (archive, post, one-click unsubscribe); none otherwise. */
    const links = (bridge: string): Links => {
      const f = ctx.service('web.links');
      if (!f) return {};
      try {
        const l = f();
        return {
          ...(l.archive(bridge) !== undefined ? { archive: l.archive(bridge) } : {}),
          post: (id) => l.post(id),
          unsubscribe: (t) => l.unsubscribe(t),
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
    const recipientsOf = (list: string) => (): Recipient[] =>
      store
        .recipients(list)
        .map((address) => ({ address, unsubscribeToken: tokenFor(list, normaliseAddress(address)) }));
    const modStore = new ModerationStore(ctx.store, ctx.account);
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
      files,
      lists: {
        account: ctx.account,
        domain,
        log: ctx.log,
        server: lists,
        store,
        problems,
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
        return sender.deliverPost(post, to, info, recipientsOf(to.target), links(to.bridge), () =>
          files.files(post.id),
        );
      },
    };
  },
});
