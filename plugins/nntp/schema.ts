/**
 * The nntp plugin's account blocks. An account either serves news (listen:,
 * the built-in server) or peers with a news server (server:); the two kinds
 * have their own keys, and a block is checked against the kind it names.
 */
import { z, duration, listenAddress, hostPort, isLoopbackHost } from '../../src/plugin.js';

const POLICIES = ['none', 'authenticated', 'loopback', 'all'] as const;

const listenShape = z.strictObject({
  /** Where the news server listens ("host:port" or a port on 127.0.0.1). */
  listen: listenAddress('127.0.0.1:1119'),
  /** Who may POST: nobody, AUTHINFO users, loopback clients (and users), or everyone. */
  posting: z.strictObject({ allow: z.enum(POLICIES).default('loopback') }).default({ allow: 'loopback' }),
  /** AUTHINFO USER/PASS: name → "scrypt$SALT$HASH" (base64, see the README) or a plain password (write it as ${ENV}). */
  users: z
    .record(
      z.string().regex(/^[\x21-\x7e]{1,64}$/, 'a user name is 1-64 printable ASCII characters without spaces'),
      z.string().min(1),
    )
    .default({}),
  /** AUTHINFO on a listener beyond loopback without tls: passwords in clear. Refused unless this is true. */
  allowPlaintextAuth: z.boolean().default(false),
  /** Largest article POST takes, in octets (as sent, after dot-stuffing is undone). */
  maxArticleSize: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** A client silent this long is disconnected (RFC 3977 asks for at least 3 minutes). */
  idleTimeout: duration('10m'),
  /** Clients served at once; more are told 400 and closed. */
  maxClients: z.number().int().min(1).max(10_000).default(64),
  /** A certificate: STARTTLS on listen, and implicit TLS (nntps) on tls.listen. */
  tls: z
    .strictObject({
      /** PEM certificate (chain) file. */
      cert: z.string().min(1),
      /** PEM private key file. */
      key: z.string().min(1),
      /** Where the implicit-TLS server listens (the nntps port is 563). */
      listen: listenAddress('127.0.0.1:1563'),
    })
    .optional(),
});

/**
 * AUTHINFO sends the password as it is. On a listener reachable from the
 * network, that needs TLS (STARTTLS, after which AUTHINFO from afar waits for
 * it), or the operator saying explicitly that clear text is accepted.
 */
export const listenAccount = listenShape.superRefine((c, ctx) => {
  if (Object.keys(c.users).length === 0 || c.tls || c.allowPlaintextAuth || isLoopbackHost(c.listen.host)) return;
  const where = `${c.listen.host.includes(':') ? `[${c.listen.host}]` : c.listen.host}:${c.listen.port}`;
  ctx.addIssue({
    code: 'custom',
    path: ['users'],
    message: `AUTHINFO passwords would cross the network in clear: the news server listens on ${where} without TLS. Add tls: { cert, key } (STARTTLS is then offered, and a password from beyond loopback waits for it), listen on 127.0.0.1, or set allowPlaintextAuth: true to accept it knowingly`,
  });
});
export type ListenConfig = z.infer<typeof listenAccount>;

const printable = z.string().regex(/^[\x21-\x7e]{1,64}$/, 'printable ASCII without spaces, at most 64 characters');

export const serverAccount = z
  .strictObject({
    /** The news server to peer with: "host" (port 119, or 563 with tls: true) or "host:port". */
    server: z.string().min(1),
    /** false: plain NNTP; true: TLS from the first byte (nntps, port 563); starttls: plain, then STARTTLS. */
    tls: z.union([z.boolean(), z.literal('starttls')]).default(false),
    /** Check the server's certificate (turn off only for a self-signed test server; prefer tlsCa). */
    tlsVerify: z.boolean().default(true),
    /** A PEM file with the CA (or the server's own certificate) to trust. */
    tlsCa: z.string().min(1).optional(),
    /** AUTHINFO USER/PASS. */
    user: printable.optional(),
    password: z.string().min(1).optional(),
    /** How often to look for new articles in each group. */
    pollInterval: duration('1m'),
    /** How our posts go out: POST as a reader, or IHAVE as a feed peer (the server must list us as one). */
    feed: z.enum(['post', 'ihave']).default('post'),
    /** On the first poll of a group, also fetch this many of its newest articles (0: start at its current end). */
    backfill: z.number().int().min(0).max(100_000).default(0),
    /** Larger articles are not fetched into the bridge (skipped with a warning). */
    maxArticleSize: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** At most this many articles fetched per group in one poll (the rest come in the next). */
    batch: z.number().int().min(1).max(100_000).default(500),
    /** Connecting, and each answer of the server, must take at most this long. */
    timeout: duration('30s'),
    /** Reconnect delays grow from 1 s up to this. */
    maxBackoff: duration('5m'),
    /** A post removed from the archive (peerpost remove, archive.keep) that this account sent gets a cancel here. */
    sendCancels: z.boolean().default(false),
    /**
     * Cancels read from this server are honoured (the post removed here, cause "cancel") when the host that
     * injected them (Path) is one of these; "*" for any. A Cancel-Lock the article carried must be opened.
     */
    acceptCancels: z.array(z.string().min(1).max(255)).default([]),
  })
  .superRefine((c, ctx) => {
    if ((c.user === undefined) !== (c.password === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c.user === undefined ? 'user' : 'password'],
        message: 'AUTHINFO needs both user and password',
      });
    if (c.tlsCa !== undefined && c.tls === false)
      ctx.addIssue({ code: 'custom', path: ['tlsCa'], message: 'tlsCa needs tls: true or tls: starttls' });
    if (c.tlsVerify === false && c.tls === false)
      ctx.addIssue({
        code: 'custom',
        path: ['tlsVerify'],
        message: 'tlsVerify only matters with tls: true or tls: starttls',
      });
    const hp = hostPort(c.tls === true ? 563 : 119).safeParse(c.server);
    if (!hp.success)
      ctx.addIssue({
        code: 'custom',
        path: ['server'],
        message: hp.error.issues[0]?.message ?? `"${c.server}" is not host:port`,
      });
  })
  .transform((c) => ({ ...c, address: hostPort(c.tls === true ? 563 : 119).parse(c.server) }));
export type ServerConfig = z.infer<typeof serverAccount>;

export type Config = ListenConfig | ServerConfig;
export const isServerConfig = (c: Config): c is ServerConfig => 'server' in c;

const LISTEN_KEYS = Object.keys(listenShape.shape);
const SERVER_KEYS = [
  'server',
  'tls',
  'tlsVerify',
  'tlsCa',
  'user',
  'password',
  'pollInterval',
  'feed',
  'backfill',
  'batch',
  'maxArticleSize',
  'timeout',
  'maxBackoff',
  'sendCancels',
  'acceptCancels',
];

/**
 * The account block: with `server:` a peering account, otherwise the built-in
 * server. Keys of the other kind are reported as such ("backfill belongs to a
 * server: account"), not as a union's shapeless error.
 */
export const account = z.unknown().transform((v, ctx): Config => {
  const block = v ?? {};
  if (typeof block !== 'object' || Array.isArray(block)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'an nntp account is a mapping: listen: (the built-in news server) or server: (peering with a news server)',
    });
    return z.NEVER;
  }
  const keys = Object.keys(block);
  const peering = keys.includes('server');
  if (peering && keys.includes('listen')) {
    ctx.addIssue({
      code: 'custom',
      path: ['listen'],
      message:
        'an nntp account either serves news (listen:) or peers with a news server (server:), not both: make two accounts',
    });
    return z.NEVER;
  }
  const [schema, own, other, kind, otherKind] = peering
    ? [serverAccount, SERVER_KEYS, LISTEN_KEYS, 'a peering account (server:)', 'the built-in server (listen:)']
    : [listenAccount, LISTEN_KEYS, SERVER_KEYS, 'the built-in server (listen:)', 'a peering account (server:)'];
  let bad = false;
  for (const k of keys) {
    if (own.includes(k)) continue;
    bad = true;
    ctx.addIssue({
      code: 'custom',
      path: [k],
      message: other.includes(k)
        ? `"${k}" is a key of ${otherKind}, and this is ${kind}${peering ? '' : ': add server: host:port to peer with a news server'}`
        : `unknown key "${k}" for ${kind} (keys: ${own.join(', ')})`,
    });
  }
  if (bad) return z.NEVER;
  const r = (schema as z.ZodType<Config>).safeParse(block);
  if (!r.success) {
    for (const i of r.error.issues)
      ctx.addIssue({ ...(i as object), code: i.code === 'custom' ? 'custom' : i.code } as never);
    return z.NEVER;
  }
  return r.data;
});
