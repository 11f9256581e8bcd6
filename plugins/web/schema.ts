/**
 * The web plugin's config: the account block and the endpoint target rule.
 * See plugins/web/README.md for the options table.
 */
import { z, duration, listenAddress } from '../../src/plugin.js';

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

export const account = z.strictObject({
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
export type Config = z.infer<typeof account>;

/** A web endpoint has no keys of its own. */
export const endpoint = z.strictObject({});
