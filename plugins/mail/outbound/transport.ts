/**
 * The pooled SMTP connection to the smarthost (nodemailer), and what one SMTP
 * transaction's answer means for each of its recipients.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import type { SmtpConfig } from './schema.js';

export interface Outcome1 {
  address: string;
  /** sent: 250 after DATA; deferred: 4xx (or no answer); bounced: 5xx at RCPT or DATA. */
  result: 'sent' | 'deferred' | 'bounced';
  code: number | null;
  reply: string;
}

export interface SmtpSender {
  /** One SMTP transaction: MAIL FROM sender, RCPT TO each, DATA raw. Never rejects: every recipient gets an outcome. */
  send(sender: string, recipients: readonly string[], raw: Buffer): Promise<Outcome1[]>;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejectedErrors?: SmtpError[];
  recipient?: string;
}

function replyOf(e: SmtpError): string {
  return (e.response ?? e.message ?? 'error').replace(/[\r\n]+/g, ' ').slice(0, 300);
}

/** What a rejected-recipient error means. */
function classify(e: SmtpError): { result: 'deferred' | 'bounced'; code: number | null; reply: string } {
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  return { result: code !== null && code >= 500 && code < 600 ? 'bounced' : 'deferred', code, reply: replyOf(e) };
}

/** Map an answer (or an error) from nodemailer onto every recipient of the transaction. */
export function outcomes(
  recipients: readonly string[],
  info: { accepted?: unknown[]; rejectedErrors?: SmtpError[]; response?: string } | undefined,
  err: SmtpError | undefined,
): Outcome1[] {
  const byAddr = new Map<string, Outcome1>();
  const rejected = err ? err.rejectedErrors : info?.rejectedErrors;
  for (const r of rejected ?? []) {
    if (typeof r.recipient === 'string') byAddr.set(r.recipient, { address: r.recipient, ...classify(r) });
  }
  if (err) {
    // No message went: every recipient not already refused at RCPT waits, unless the DATA itself drew a 5xx.
    const data = err.command === 'DATA' || err.code === 'EMESSAGE';
    const permanent = data && typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
    for (const a of recipients) {
      if (!byAddr.has(a))
        byAddr.set(a, {
          address: a,
          result: permanent ? 'bounced' : 'deferred',
          code: err.responseCode ?? null,
          reply: replyOf(err),
        });
    }
  } else {
    const reply = (info?.response ?? '250').replace(/[\r\n]+/g, ' ').slice(0, 300);
    for (const a of recipients) if (!byAddr.has(a)) byAddr.set(a, { address: a, result: 'sent', code: 250, reply });
  }
  return recipients.map((a) => byAddr.get(a)!);
}

export function smtpTransport(config: SmtpConfig, heloName: string): SmtpSender {
  let ca: string | undefined;
  if (config.tls.ca) {
    try {
      ca = readFileSync(config.tls.ca, 'utf8');
    } catch (err) {
      throw new Error(`smtp.tls.ca: cannot read ${config.tls.ca}: ${(err as Error).message}`, { cause: err });
    }
  }
  const pool = new SMTPPool({
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTLS,
    name: heloName,
    tls: {
      rejectUnauthorized: config.tls.rejectUnauthorized,
      ...(ca ? { ca } : {}),
      ...(config.tls.servername ? { servername: config.tls.servername } : {}),
    },
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
    maxConnections: config.pool.maxConnections,
    maxMessages: config.pool.maxMessages,
    connectionTimeout: config.timeout,
    greetingTimeout: config.timeout,
    socketTimeout: config.timeout,
    logger: false,
  });
  return {
    send(sender, recipients, raw) {
      return new Promise((resolve) => {
        // The pool's transport API takes a mail object; ours is the finished message already, so we hand the pool
        // exactly what it reads (envelope, an id for its log, a fresh stream per try) and skip nodemailer's composer.
        const envelope = { from: sender, to: [...recipients] };
        const mail = {
          data: {},
          message: {
            getEnvelope: () => ({ from: envelope.from, to: [...envelope.to] }),
            messageId: () => '',
            getHeader: () => '',
            createReadStream: () => {
              const r = new Readable({ read() {} });
              r.push(raw);
              r.push(null);
              return r;
            },
          },
        };
        pool.send(mail as never, (err, info) => {
          resolve(outcomes(recipients, info as never, (err ?? undefined) as SmtpError | undefined));
        });
      });
    },
    close() {
      pool.close();
    },
  };
}
