/**
 * The account's sending options, composed by the mail plugin's account schema
 * under the key `smtp`. Every key has a default, so `smtp:` may be left out.
 */
import { z, duration } from '../../../src/plugin.js';

const policy = z.enum(['none', 'quarantine', 'reject']);
export type DmarcPolicy = z.infer<typeof policy>;

const domainName = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'expected a domain name such as example.org');

/** The object with every key's default when left out (duration()'s input type does not say its default makes it optional). */
function prefaulted<T extends z.ZodObject>(schema: T) {
  return schema.prefault(() => ({}) as z.input<T>);
}

export const smtpSchema = prefaulted(
  z.strictObject({
    /** The smarthost every message goes to. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(25),
    /** Implicit TLS from the first byte (port 465). */
    secure: z.boolean().default(false),
    /** Refuse to send unless the smarthost offers STARTTLS (and the upgrade succeeds). */
    requireTLS: z.boolean().default(false),
    tls: z
      .strictObject({
        /** A PEM file of CA certificates to trust for the smarthost (instead of the system's). */
        ca: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().default(true),
        /** The name to check the smarthost's certificate against (default: host). */
        servername: z.string().min(1).optional(),
      })
      .prefault({}),
    auth: z.strictObject({ user: z.string().min(1), pass: z.string() }).optional(),
    /** The name given in EHLO (default: node.hostname). */
    heloName: z.string().min(1).optional(),
    pool: z
      .strictObject({
        /** SMTP connections open at once to the smarthost. */
        maxConnections: z.number().int().min(1).max(100).default(5),
        /** Messages sent over one connection before it is replaced. */
        maxMessages: z.number().int().min(1).default(1000),
      })
      .prefault({}),
    /** Recipients in one SMTP transaction (grouped by domain). */
    recipientsPerTransaction: z.number().int().min(1).max(1000).default(50),
    /** One transaction per recipient with the envelope sender LIST-bounces+alice=example.org@domain, so every bounce names its recipient. */
    verp: z.boolean().default(false),
    /** From: for posts that came by mail: keep the author's, unless their domain's DMARC policy would fail it ('dmarc'); rewrite always; or never. */
    fromRewrite: z.enum(['dmarc', 'always', 'never']).default('dmarc'),
    dmarc: prefaulted(
      z.strictObject({
        /** How long a DMARC answer (or its absence) is kept. */
        cacheTtl: duration('1h'),
        /** Longest wait for one DNS answer; no answer in time counts as "policy unknown" and the From is rewritten to be safe. */
        timeout: duration('5s'),
        /** Fixed policies by domain (tests, or a domain whose policy you know); they win over DNS. */
        policies: z.record(domainName, policy).optional(),
      }),
    ),
    /** Robot mail and forwarded owner mail: the first retry after a temporary failure, doubling up to retryMax. */
    retryFirst: duration('1m'),
    retryMax: duration('1h'),
    /** Robot mail still undelivered after this long is dropped, with a warning in the log. */
    robotExpire: duration('3d'),
    /** Socket timeouts for the smarthost (connect, greeting, each reply). */
    timeout: duration('30s'),
  }),
);

export type SmtpConfig = z.infer<typeof smtpSchema>;
