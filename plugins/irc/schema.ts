/**
 * The irc plugin's config: account and endpoint schemas, and what a channel
 * target may be. See README.md for every key.
 */
import { z, duration } from '../../src/plugin.js';
import { relayNickProblem } from './relaymsg.js';
import { formatProblem, urlTemplateProblem } from './text.js';
import { normalFingerprint } from './transport.js';

export const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;
export const nick = () =>
  z.string().regex(NICK, 'not a valid IRC nick (a letter or one of [ ] \\ ` _ ^ { | } first, then also digits and -)');

/** Why a channel name cannot be a target, or undefined. */
export function channelProblem(t: string): string | undefined {
  if (!/^[#&!+]/.test(t)) return 'an IRC channel starts with #, &, ! or +';
  if (t.length < 2) return 'a channel name needs more than its first character';
  if (/[\s,\x00-\x1f\x7f]/.test(t)) return 'an IRC channel name has no spaces, commas or control characters';
  if (Buffer.byteLength(t) > 200) return 'an IRC channel name is at most 200 bytes';
  return undefined;
}

/** `events`: false (off), true (both ways), 'in' (post this channel's), 'out' (show other places'). */
export const eventsOption = () => z.union([z.boolean(), z.enum(['in', 'out'])]);

/** A block that may be left out or written empty: both mean all defaults. */
export const block = <T extends z.ZodRawShape>(shape: T) => z.preprocess((v) => v ?? {}, z.strictObject(shape));

export const accountSchema = z
  .strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).optional(),
    tls: z.boolean().default(true),
    tlsVerify: z.boolean().default(true),
    tlsFingerprint: z
      .string()
      .superRefine((v, c) => {
        if (!normalFingerprint(v))
          c.addIssue({
            code: 'custom',
            message:
              "expected the SHA-256 fingerprint of the server's certificate: 32 bytes in hex, e.g. AB:CD:… (openssl x509 -noout -fingerprint -sha256)",
          });
      })
      .optional(),
    nick: nick(),
    altNicks: z.array(nick()).default([]),
    reclaimNick: duration('1m'),
    username: z
      .string()
      .regex(/^[^\s@!:]+$/, 'a username has no spaces, "@", "!" or ":"')
      .optional(),
    realname: z.string().min(1).default('peerpost relay on {hostname}'),
    password: z.string().optional(),
    tlsCa: z.string().min(1).optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    sasl: z
      .union([
        z.strictObject({
          mechanism: z.literal('PLAIN').optional(),
          account: z.string().min(1),
          password: z.string().min(1),
        }),
        z.strictObject({ mechanism: z.literal('EXTERNAL') }),
      ])
      .optional(),
    nickserv: z
      .strictObject({
        password: z.string().min(1),
        account: z.string().min(1).optional(),
        service: nick().default('NickServ'),
      })
      .optional(),
    notices: z.boolean().default(false),
    format: z
      .string()
      .default('<{nick}> ')
      .superRefine((f, c) => {
        const p = formatProblem(f);
        if (p) c.addIssue({ code: 'custom', message: p });
      }),
    maxLines: z.number().int().min(1).max(1000).default(10),
    moreUrl: z
      .string()
      .superRefine((u, c) => {
        const p = urlTemplateProblem(u);
        if (p) c.addIssue({ code: 'custom', message: p });
      })
      .optional(),
    antiHighlight: z.boolean().default(false),
    nickColours: z.boolean().default(false),
    events: eventsOption().default(false),
    eventFormat: z
      .string()
      .default('*** ')
      .superRefine((f, c) => {
        const p = formatProblem(f);
        if (p) c.addIssue({ code: 'custom', message: p });
      }),
    relaymsg: z.boolean().default(false),
    relaymsgNick: z
      .string()
      .default('{nick}/{protocol}')
      .superRefine((f, c) => {
        const p = relayNickProblem(f);
        if (p) c.addIssue({ code: 'custom', message: p });
      }),
    relays: block({
      nicks: z.array(nick()).default([]),
      detect: z.boolean().default(true),
      lines: z.enum(['ignore', 'relay']).default('ignore'),
      remember: duration('10m'),
      tags: z.boolean().default(true),
    }),
    flood: block({
      burst: z.number().int().min(1).default(5),
      interval: duration('500ms'),
      maxWait: duration('30s'),
      /** Posts of one channel written and waiting for the server's confirmation at once (one PING confirms them all). */
      window: z.number().int().min(1).max(64).default(8),
    }),
    reconnect: block({
      first: duration('2s'),
      max: duration('5m'),
    }),
    /** What was said while the bot was away, where the server keeps history (draft/chathistory): replay.ts. */
    history: block({
      replay: z.boolean().default(true),
      maxAge: duration('1h'),
      maxLines: z.number().int().min(1).max(10_000).default(1000),
    }),
    rejoinAfterKick: duration('10s'),
    rejoinAfterFail: duration('1m'),
  })
  .superRefine((c, ctx) => {
    if (c.tlsFingerprint !== undefined && !c.tls)
      ctx.addIssue({ code: 'custom', path: ['tlsFingerprint'], message: 'a certificate fingerprint needs tls: true' });
    for (const k of ['tlsCa', 'tlsCert', 'tlsKey'] as const)
      if (c[k] !== undefined && !c.tls) ctx.addIssue({ code: 'custom', path: [k], message: `${k} needs tls: true` });
    if (c.tlsKey !== undefined && c.tlsCert === undefined)
      ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'a client key needs its certificate (tlsCert)' });
    if (c.sasl?.mechanism === 'EXTERNAL' && c.tlsCert === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['sasl', 'mechanism'],
        message: 'SASL EXTERNAL logs in with a client certificate: set tlsCert (and tlsKey)',
      });
  });
export type IrcConfig = z.infer<typeof accountSchema>;

export const endpointSchema = z.strictObject({
  events: eventsOption().optional(),
  key: z
    .string()
    .min(1)
    .regex(/^[^\s,\x00-\x1f]+$/, 'a channel key has no spaces, commas or control characters')
    .optional(),
});

/** Keys whose change needs a new connection; the others are applied in place. */
export const CONNECTION_KEYS = [
  'host',
  'port',
  'tls',
  'tlsVerify',
  'tlsFingerprint',
  'tlsCa',
  'tlsCert',
  'tlsKey',
  'nick',
  'altNicks',
  'username',
  'realname',
  'password',
  'sasl',
  'nickserv',
  'reconnect',
] as const;
