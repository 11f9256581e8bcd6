/**
 * Config schemas of the mail plugin: the account block (receiving, lists, and
 * the sending options of ./outbound under `smtp`) and the keys a list endpoint
 * may carry. Every default is documented in plugins/mail/README.md.
 */
import { z, duration, listenAddress } from '../../src/plugin.js';
import { smtpSchema } from './outbound/schema.js';
import { POLICIES } from './policy.js';
import { addressProblem } from './lists.js';
import { banList } from './bans.js';

const MB = 1024 * 1024;

const domainName = z
  .string()
  .regex(
    /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
    'expected a domain name such as lists.example.org',
  );

export const mailAddress = z.string().superRefine((v, ctx) => {
  const p = addressProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export const account = z.strictObject({
  /** The lists' domain: list "commons" is commons@DOMAIN. Default: node.hostname. */
  domain: domainName.optional(),
  /** Where the SMTP receiver listens. */
  listen: listenAddress('127.0.0.1:2525'),
  /** Largest message taken, in bytes; advertised with SIZE, refused with 552 past it. */
  maxSize: z
    .number()
    .int()
    .min(1024)
    .max(200 * MB)
    .default(10 * MB),
  /** Recipients (RCPT) in one transaction; more are told 452 (try them in another). */
  maxRecipients: z.number().int().min(1).max(1000).default(50),
  limits: z
    .strictObject({
      /** Clients served at once. */
      clients: z.number().int().min(1).max(10_000).default(64),
      /** Connections at once from one client address; more are told 421. */
      perClient: z.number().int().min(1).max(1000).default(8),
      /** Messages one client address may send per `per`; more are told 451 (try later). 0: no limit. */
      messages: z.number().int().min(0).default(60),
      per: duration('1m'),
      /** Client addresses the per-client limits do not apply to: the local MTA, when peerpost sits behind one (all its mail comes from 127.0.0.1). */
      exempt: z
        .array(z.string().regex(/^[0-9a-fA-F.:]+$/, 'expected an IP address such as 127.0.0.1 or ::1'))
        .default([]),
    })
    .default({ clients: 64, perClient: 8, messages: 60, per: 60_000, exempt: [] }),
  /** A client silent this long is disconnected. */
  idleTimeout: duration('2m'),
  /** STARTTLS is offered when a certificate and key (PEM files) are given. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  subscription: z
    .strictObject({
      /** How long a confirmation (subscribe, unsubscribe) may wait for its answer. */
      expire: duration('3d'),
      /** Anti subscription-bombing: at most one unrequested robot mail (a confirmation request, help, a notice) per address and list in this window. */
      window: duration('1d'),
    })
    .default({ expire: 3 * 86_400_000, window: 86_400_000 }),
  bounces: z
    .strictObject({
      /** A subscriber's bounce score at which delivery to them is disabled (and the owners told). */
      threshold: z.number().int().min(1).max(1000).default(5),
      /** Bounces within this time of the last counted one count once. */
      once: duration('1d'),
      /** A score with no bounce for this long starts again from zero. */
      resetAfter: duration('7d'),
    })
    .default({ threshold: 5, once: 86_400_000, resetAfter: 7 * 86_400_000 }),
  held: z
    .strictObject({
      /** A held post with no decision for this long is dropped (owners told). 0: kept until decided. */
      expire: duration('14d'),
    })
    .default({ expire: 14 * 86_400_000 }),
  /** How long the files of mail posts are kept for list mail (0: as long as the post). */
  keepAttachments: duration('30d'),
  /** Sending: the smarthost and how mail is made (see "Sending, bounces and headers" in the README). */
  smtp: smtpSchema,
  /** Banned from every list of the account: addresses, *@spam.example globs, /regex/ (plugins/mail/bans.ts). */
  bans: banList.default([]),
});
export type Config = z.infer<typeof account>;

/** Keys of a list endpoint (`{ endpoint: mail.lists/commons, policy: open, owners: [...] }`). */
export const endpoint = z.strictObject({
  /** Who may post: members (default), open, moderated, announce. */
  policy: z.enum(POLICIES).optional(),
  /** Who runs the list: they get held posts, owner mail and bounce notices, and may always post. */
  owners: z.array(mailAddress).optional(),
  /** They get held posts' notices and may decide them (by reply, CLI, owner page); owners may do everything. */
  moderators: z.array(mailAddress).optional(),
  /** Banned from this list (posting, subscribing, robot replies): addresses, *@spam.example globs, /regex/. */
  bans: banList.optional(),
  /** Subject tag; false for none. Default "[LIST]". */
  subjectTag: z.union([z.string().min(1).max(40), z.literal(false)]).optional(),
  /** Attachments of mail posts: passed on to subscribers, or stripped (listed in the text). */
  attachments: z.enum(['pass', 'strip']).optional(),
  /** The most bytes of attachments one post keeps and sends (in order; the rest are named in the text). Default: the account's maxSize. */
  maxAttachmentBytes: z
    .number()
    .int()
    .min(0)
    .max(200 * MB)
    .optional(),
  /** Digests for the members who chose them: sent daily at `hour` (in `timezone`, UTC by default), or sooner at maxPosts posts or maxBytes bytes of text. */
  digest: z
    .strictObject({
      /** Hour of the day (0–23, in `timezone`) the day's digest goes out. Default 6. */
      hour: z.number().int().min(0).max(23).optional(),
      /** The IANA time zone of `hour` (Europe/Berlin). Default UTC. */
      timezone: z
        .string()
        .refine(
          (tz) => {
            try {
              new Intl.DateTimeFormat('en-US', { timeZone: tz });
              return true;
            } catch {
              return false;
            }
          },
          { message: 'not an IANA time zone name (such as UTC or Europe/Berlin)' },
        )
        .optional(),
      /** A digest goes out as soon as it holds this many posts. Default 100. */
      maxPosts: z.number().int().min(1).max(10_000).optional(),
      /** A digest goes out as soon as its posts' text reaches this many bytes. Default 102400. */
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .max(50 * MB)
        .optional(),
    })
    .optional(),
  /** A directory (relative to the config file's) with the list's own footer.txt, digest-footer.txt, welcome.txt, goodbye.txt, confirm.txt. */
  templates: z.string().min(1).optional(),
});
export type EndpointOptions = z.infer<typeof endpoint>;
