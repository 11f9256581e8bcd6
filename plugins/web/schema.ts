/**
 * The web plugin's config: the account block and the endpoint target rule.
 * See plugins/web/README.md for the options table.
 */
import { isIP } from 'node:net';
import { z, duration, isLoopbackHost, listenAddress } from '../../src/plugin.js';

/** A name on the web (/b/NAME): what an endpoint `web.local/NAME` gives its bridge. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function targetProblem(target: string): string | undefined {
  if (NAME_RE.test(target)) return undefined;
  return `"${target}" cannot be a web name: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (it becomes the page /b/${encodeURIComponent(target)})`;
}

const token = z.strictObject({
  /** Shown in logs; the author name of posts made with it unless the request names one. */
  name: z.string().min(1).max(64),
  /** The secret itself: put it in the environment, `token: ${WEB_TOKEN}`. */
  token: z.string().min(16, 'a token must be at least 16 characters long (use e.g. `openssl rand -hex 24`)').max(512),
  /** Bridges (by bridge name) this token may post to; ["*"] for every bridge the web serves. */
  bridges: z.array(z.string().min(1)).min(1),
});
export type TokenConfig = z.infer<typeof token>;

/** "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8". */
export function addressRangeProblem(v: string): string | undefined {
  const [addr, bits, ...rest] = v.split('/');
  const family = isIP(addr ?? '');
  if (!family || rest.length)
    return `"${v}" is not an address or a range (expected e.g. 127.0.0.1, 127.0.0.0/8, ::1 or fd00::/8)`;
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
    return `"${v}": the prefix length after / must be a whole number from 0 to ${max}`;
  return undefined;
}

/** Who may see /status, /metrics and the details of /healthz. */
const admin = z.strictObject({
  /** A bearer token that opens them from anywhere: `token: ${PEERPOST_ADMIN_TOKEN}`. */
  token: z
    .string()
    .min(16, 'the admin token must be at least 16 characters long (use e.g. `openssl rand -hex 24`)')
    .max(512)
    .optional(),
  /**
   * Client addresses let in without the token (never through a proxy). Default:
   * loopback (127.0.0.0/8, ::1), or nobody when publicUrl is set.
   */
  allow: z
    .array(
      z.string().superRefine((v, ctx) => {
        const p = addressRangeProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: p });
      }),
    )
    .optional(),
});
export type AdminConfig = z.infer<typeof admin>;

/** The addresses admitted without a token when `admin.allow` is not written. */
export const LOOPBACK_RANGES = ['127.0.0.0/8', '::1'] as const;

const accountShape = z.strictObject({
  /** Where to listen. Loopback by default: put a reverse proxy with TLS in front to publish it. */
  listen: listenAddress('127.0.0.1:8080'),
  /** The address people reach this server at, for links in mail and IRC: https://lists.example.org. Default http://HOST:PORT. */
  publicUrl: z
    .url({ protocol: /^https?$/ })
    .refine(
      (u) => new URL(u).pathname.replace(/\/+$/, '') === '' && !new URL(u).search,
      "publicUrl is the site's root, scheme://host[:port] without a path (serve peerpost at the root of its own host name)",
    )
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  /** The site's name, in page titles and the header. */
  title: z.string().min(1).max(100).default('peerpost'),
  /** Posts per archive page (and the API's default page size). */
  pageSize: z.number().int().min(1).max(500).default(50),
  /** Entries in an Atom feed (/b/NAME/atom, /t/ID/atom): the newest posts. */
  feedEntries: z.number().int().min(1).max(500).default(50),
  /** /status, /metrics and the details of /healthz: to loopback by default, elsewhere with a bearer token. */
  admin: admin.default({}),
  /**
   * Tokens travel in clear on a listener beyond loopback when no TLS proxy is in front
   * (publicUrl https://): refused unless this is true.
   */
  allowPlaintextAuth: z.boolean().default(false),
  /** Tokens that may post (API and WebSocket). Posting from the web is off while this is empty. */
  tokens: z.array(token).default([]),
  /** Origins (https://app.example.org) whose pages may call the API and open the stream; none by default. */
  corsOrigins: z
    .array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'an origin is scheme://host[:port], no path'))
    .default([]),
  /** The largest request body (a post), in bytes. */
  maxBody: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  /** Requests to finish their headers and body within this, or be cut. */
  requestTimeout: duration('30s').refine((ms) => ms >= 1000, 'requestTimeout must be at least 1s'),
  /** The mailing lists' pages (/l/LIST and its owner page): their limits and how long a login lasts. */
  lists: z
    .strictObject({
      /** Forms anyone can send (subscribe, ask for a login link): at most this many per client address per `per`; 0: no limit. */
      perClient: z.number().int().min(0).max(100_000).default(10),
      /** … and this many for one mail address per `per` (a subscribe flood against one address); 0: no limit. */
      perAddress: z.number().int().min(0).max(100_000).default(3),
      per: duration('1h').refine((ms) => ms >= 1000, 'lists.per must be at least 1s'),
      /** How long a mailed login link to the owner page works (once). */
      loginExpire: duration('30m').refine(
        (ms) => ms >= 60_000 && ms <= 86_400_000,
        'lists.loginExpire must be from 1m to 1d',
      ),
      /** How long an owner stays logged in. */
      session: duration('8h').refine(
        (ms) => ms >= 60_000 && ms <= 30 * 86_400_000,
        'lists.session must be from 1m to 30d',
      ),
    })
    .default({ perClient: 10, perAddress: 3, per: 3_600_000, loginExpire: 1_800_000, session: 8 * 3_600_000 }),
  stream: z
    .strictObject({
      /** WebSocket clients at once; more are refused with 503. */
      maxClients: z.number().int().min(1).max(100_000).default(2000),
      /** A client with more than this many bytes sent but not yet read is cut (close code 4008). */
      maxBuffered: z
        .number()
        .int()
        .min(16 * 1024)
        .default(4 * 1024 * 1024),
      /** Ping every client this often; one that has not answered the previous ping is cut. */
      heartbeat: duration('30s').refine((ms) => ms >= 100, 'the heartbeat must be at least 100ms'),
      /** The largest message a client may send (a post), in bytes. */
      maxMessage: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(64 * 1024),
    })
    .default({ maxClients: 2000, maxBuffered: 4 * 1024 * 1024, heartbeat: 30_000, maxMessage: 64 * 1024 }),
});

/**
 * The web has no TLS of its own: a token sent to a listener reachable from the
 * network travels in clear unless a TLS proxy is in front (publicUrl https://).
 */
export const account = accountShape.superRefine((c, ctx) => {
  if (isLoopbackHost(c.listen.host) || c.allowPlaintextAuth) return;
  if (c.publicUrl?.startsWith('https://')) return;
  const where = `${c.listen.host.includes(':') ? `[${c.listen.host}]` : c.listen.host}:${c.listen.port}`;
  const fix = `listen on 127.0.0.1 behind a TLS proxy and set publicUrl: https://…, or set allowPlaintextAuth: true to accept it knowingly`;
  if (c.tokens.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['tokens'],
      message: `posting tokens would cross the network in clear: the web listens on ${where} without TLS in front; ${fix}`,
    });
  if (c.admin.token !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['admin', 'token'],
      message: `the admin token would cross the network in clear: the web listens on ${where} without TLS in front; ${fix}`,
    });
});
export type Config = z.infer<typeof account>;

/** A web endpoint has no keys of its own. */
export const endpoint = z.strictObject({});
