/**
 * The schemas of the core's own keys (node, delivery, plugins, accounts,
 * bridges, endpoints). Plugins bring the schemas of their account blocks.
 * Used by ./load.ts, which locates every problem in the YAML source.
 */
import { z } from 'zod';
import { duration } from './schema-helpers.js';
import { ADDRESS_POLICIES, DIRECTIONS, SHAPES, type AddressPolicy, type Direction, type Shape } from './types.js';

export const DURATION = 'a duration such as 500ms, 30s, 10m, 2h or 7d';
const dur = (def: string) => duration(def).describe(DURATION);
const int = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);
/** A block that may be left out or written empty (`node:`): both mean all defaults. */
const block = <T extends z.ZodRawShape>(shape: T) => z.preprocess((v) => v ?? {}, z.strictObject(shape));
const list = <T extends z.ZodType>(el: T) => z.preprocess((v) => v ?? [], z.array(el));
const text = (def: string) => z.preprocess((v) => v ?? def, z.string());

export const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
export const ACCOUNT_NAME = /^[a-z][a-z0-9-]*\.[A-Za-z0-9_-]+$/;
export const BRIDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const PROTOCOL_NAME = /^[a-z][a-z0-9-]*$/;
/** Targets that are IRC channels compare case-insensitively. */
export const CHANNEL = /^[#&!+]/;

export const hostnameSchema = z.string().superRefine((v, ctx) => {
  if (v.length > 253 || !HOSTNAME.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a hostname (letters, digits, dots and hyphens, e.g. lists.example.org), got ${JSON.stringify(v)}`,
    });
  }
});

export const TOP_KEYS = ['node', 'delivery', 'plugins', 'accounts', 'bridges'] as const;
export const topKeysSchema = z.strictObject(Object.fromEntries(TOP_KEYS.map((k) => [k, z.unknown().optional()])));

export const nodeSchema = block({
  hostname: hostnameSchema.optional(),
  data: z.string().min(1).default('./data'),
  maxHops: int(1, 100, 10),
  durability: z.enum(['process', 'power']).default('process'),
  /**
   * PostgreSQL instead of the SQLite file in node.data (issue 17): postgres://USER:${PASSWORD}@HOST:PORT/DB; TLS by
   * the URL's sslmode (require, verify-ca, verify-full) and sslrootcert. node.data still holds the control socket.
   */
  database: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'expected a PostgreSQL URL: postgres://USER:PASSWORD@HOST:PORT/DATABASE')
    .optional(),
  /**
   * Several processes on one PostgreSQL database (src/runtime/leases.ts): how long a process that stopped renewing
   * its leases (killed, cut off) keeps them before another takes its accounts over. Unused on SQLite.
   */
  failover: dur('15s'),
});

export const deliverySchema = block({
  retry: block({ first: dur('2s'), max: dur('10m') }),
  giveUpAfter: dur('3d'),
  timeout: dur('1m'),
  shutdownGrace: dur('10s'),
  alertAfter: dur('1h'),
});

export const pluginsSchema = z
  .preprocess((v) => v ?? {}, z.record(z.string(), z.string().min(1)))
  .describe('a mapping of protocol: module, e.g. gopher: ./gopher.js');
export const accountsSchema = z
  .preprocess((v) => v ?? {}, z.record(z.string(), z.unknown()))
  .describe('a mapping of accounts by protocol.instance, e.g. irc.libera: { host: irc.libera.chat }');
export const bridgesSchema = z
  .preprocess((v) => v ?? {}, z.record(z.string(), z.unknown()))
  .describe('a mapping of bridges by name, e.g. commons: { endpoints: [irc.libera/#commons] }');

/**
 * A regular expression as JS source; a leading "(?i)" makes it case-insensitive.
 * Checked in the schema so a bad pattern is reported with the bridge's other problems.
 */
const pattern = (flags: string) =>
  z.string().transform((src, ctx) => {
    let body = src;
    let f = flags;
    if (body.startsWith('(?i)')) {
      body = body.slice(4);
      f += 'i';
    }
    if (body === '') {
      ctx.addIssue({
        code: 'custom',
        message: 'an empty pattern matches every line (expected a regular expression, e.g. "^!" or "(?i)spam")',
      });
      return z.NEVER;
    }
    try {
      return new RegExp(body, f);
    } catch (err) {
      const why = (err as Error).message.replace(/^.*: /, '');
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(src)} is not a valid regular expression: ${why}` });
      return z.NEVER;
    }
  });

/** A bridge block; `endpoints` is checked by hand (string or mapping items, plugin keys). */
export const bridgeSchema = z.strictObject({
  description: text(''),
  endpoints: z.unknown().optional(),
  ignore: block({ nicks: list(z.string().min(1)), patterns: list(pattern('')) }),
  replace: list(z.strictObject({ pattern: pattern('g'), with: text('') })),
  digest: block({ quiet: dur('10m'), maxLines: int(1, 10000, 100), maxAge: dur('2h'), settle: dur('10s') }),
  // The archive (src/archive/): how long posts stay (left out or "forever": for good), how public views show addresses.
  archive: block({
    keep: z
      .union([z.literal('forever'), duration()])
      .default('forever')
      .describe(`"forever" or ${DURATION.replace('a duration such as', 'a duration such as 2y, 6w,')}`),
    addresses: z.enum(ADDRESS_POLICIES as [AddressPolicy, ...AddressPolicy[]]).default('obfuscate'),
  }),
});

export const ENDPOINT_KEYS = ['endpoint', 'direction', 'shape', 'prefix', 'announceLines'];
export const endpointSchema = z.strictObject({
  endpoint: z.string(),
  direction: z.enum(DIRECTIONS as [Direction, ...Direction[]]).default('inout'),
  shape: z.enum(SHAPES as [Shape, ...Shape[]]).optional(),
  prefix: z.string().min(1).default('!post'),
  announceLines: int(1, 50, 4),
});
export const ENDPOINT_DEFAULTS: {
  direction: Direction;
  shape?: Shape | undefined;
  prefix: string;
  announceLines: number;
} = { direction: 'inout', prefix: '!post', announceLines: 4 };

/** Alias expansion can blow a small file up; stop walking past this many nodes. */
export const MAX_NODES = 100_000;
