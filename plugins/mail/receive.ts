/**
 * The SMTP receiver (smtp-server): accepts RCPT only for what `recipient()`
 * says is ours (550 for anything else: never an open relay), takes the message
 * up to `maxSize` (SIZE advertised, 552 past it), and answers DATA with what
 * `message()` decided — 250 only once the post is committed.
 *
 * Limits: clients at once, connections per client address (421), messages per
 * client address per window (451), recipients per transaction (452). STARTTLS
 * when a certificate is given; SMTPUTF8 and 8BITMIME are accepted; AUTH is off
 * (nobody needs to log in to mail a list).
 */
import { SMTPServer, type SMTPServerSession, type SMTPServerDataStream, type SMTPServerAddress } from 'smtp-server';
import type { Logger } from '../../src/plugin.js';

export interface Reply {
  code: number;
  message: string;
}

export interface Envelope {
  /** MAIL FROM, "" for the null sender. */
  from: string;
  to: string[];
  remote: string;
  smtpUtf8: boolean;
}

export interface Receiver {
  /** undefined: this recipient is ours; a Reply: refuse it with that. */
  recipient(address: string): Reply | undefined;
  message(raw: Buffer, env: Envelope): Promise<Reply>;
}

export interface ReceiverOptions {
  name: string;
  maxSize: number;
  maxRecipients: number;
  clients: number;
  perClient: number;
  messages: number;
  perMs: number;
  /** Client addresses the per-client limits do not apply to. */
  exempt: string[];
  idleTimeoutMs: number;
  tls?: { cert: Buffer; key: Buffer };
}

/** The longest a client waits for the answer to its DATA (RFC 5321 lets it wait 10 minutes). */
const HANDLE_TIMEOUT_MS = 60_000;

const err = (r: Reply) => Object.assign(new Error(r.message), { responseCode: r.code });

export function smtpReceiver(o: ReceiverOptions, r: Receiver, log: Logger): SMTPServer {
  const connections = new Map<string, number>();
  const exempt = new Set(o.exempt.flatMap((a) => [a, `::ffff:${a}`]));
  const recent = new Map<string, number[]>();
  const rateOk = (remote: string): boolean => {
    if (o.messages === 0 || exempt.has(remote)) return true;
    const now = Date.now();
    const times = (recent.get(remote) ?? []).filter((t) => now - t < o.perMs);
    if (times.length >= o.messages) {
      recent.set(remote, times);
      return false;
    }
    times.push(now);
    recent.set(remote, times);
    return true;
  };
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [k, v] of recent) if (!v.some((t) => now - t < o.perMs)) recent.delete(k);
    },
    Math.max(1000, Math.min(o.perMs, 60_000)),
  );
  sweep.unref();

  const server = new SMTPServer({
    name: o.name,
    banner: 'peerpost mailing lists',
    size: o.maxSize,
    rejectOversized: true,
    maxClients: o.clients,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: o.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(o.tls ? { key: o.tls.key, cert: o.tls.cert } : {}),
    socketTimeout: o.idleTimeoutMs,
    closeTimeout: 5_000,
    logger: false,
    onConnect(session: SMTPServerSession, cb: (e?: Error | null) => void) {
      const n = (connections.get(session.remoteAddress) ?? 0) + 1;
      if (n > o.perClient && !exempt.has(session.remoteAddress)) {
        log.warn(
          { remote: session.remoteAddress, connections: n - 1 },
          'SMTP client refused: too many connections from its address',
        );
        return cb(
          err({
            code: 421,
            message: `too many connections from ${session.remoteAddress} (at most ${o.perClient}); try again later`,
          }),
        );
      }
      connections.set(session.remoteAddress, n);
      (session as SMTPServerSession & { counted?: boolean }).counted = true;
      cb();
    },
    onClose(session: SMTPServerSession) {
      if (!(session as SMTPServerSession & { counted?: boolean }).counted) return;
      const n = (connections.get(session.remoteAddress) ?? 1) - 1;
      if (n <= 0) connections.delete(session.remoteAddress);
      else connections.set(session.remoteAddress, n);
    },
    onMailFrom(_a: SMTPServerAddress, session: SMTPServerSession, cb: (e?: Error | null) => void) {
      if (!rateOk(session.remoteAddress)) {
        log.warn({ remote: session.remoteAddress }, 'SMTP client slowed down: too many messages from its address');
        return cb(
          err({
            code: 451,
            message: `too many messages from ${session.remoteAddress} (at most ${o.messages} per ${Math.round(o.perMs / 1000)} s); try again later`,
          }),
        );
      }
      cb();
    },
    onRcptTo(a: SMTPServerAddress, session: SMTPServerSession, cb: (e?: Error | null) => void) {
      if (session.envelope.rcptTo.length >= o.maxRecipients)
        return cb(
          err({
            code: 452,
            message: `too many recipients in one message (at most ${o.maxRecipients}); send the rest in another`,
          }),
        );
      const refusal = r.recipient(a.address);
      if (refusal) {
        log.info({ remote: session.remoteAddress, rcpt: a.address.slice(0, 300) }, `RCPT refused: ${refusal.message}`);
        return cb(err(refusal));
      }
      cb();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (e?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      let size = 0;
      let answered = false;
      const answer = (e: Error | null, message?: string) => {
        if (answered) return;
        answered = true;
        cb(e, message);
      };
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= o.maxSize) chunks.push(c);
      });
      stream.on('error', (e) => answer(err({ code: 451, message: `the message could not be read: ${e.message}` })));
      stream.on('end', () => {
        if (stream.sizeExceeded)
          return answer(err({ code: 552, message: `the message is larger than ${o.maxSize} bytes` }));
        const env: Envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((x) => x.address),
          remote: session.remoteAddress,
          smtpUtf8: session.envelope.smtpUtf8 === true,
        };
        // Bounded, like every hook: a client waits at most this long for its answer (a resend later is safe: a post is kept once).
        let timer: NodeJS.Timeout | undefined;
        const bounded = Promise.race([
          r.message(Buffer.concat(chunks), env),
          new Promise<Reply>((res) => {
            timer = setTimeout(
              () => res({ code: 451, message: 'the message could not be handled in time; try again later' }),
              HANDLE_TIMEOUT_MS,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        bounded.then(
          (reply) => (reply.code < 300 ? answer(null, reply.message) : answer(err(reply))),
          (e: Error) => {
            log.error({ err: e }, `a received message could not be handled: ${e.message}`);
            answer(err({ code: 451, message: 'the message could not be handled now; try again later' }));
          },
        );
      });
    },
  });
  server.on('error', (e: Error) => log.warn({ err: e }, `SMTP: ${e.message}`));
  server.on('close', () => clearInterval(sweep));
  return server;
}
