/**
 * The NNTP listener on node:net: frames command lines (at most 512 octets
 * with the CRLF, RFC 3977 3.1), reads posted articles up to the lone ".",
 * runs one command at a time per connection (pipelined commands wait their
 * turn), writes each response in one write, and guards the daemon: idle
 * timeout, a cap on clients, a cap on an article's size.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type SecureContext } from 'node:tls';
import { Session, type Backend } from './session.js';

/** The line end put back after each line of a received article. */
const CRLF = Buffer.from('\r\n');

export const MAX_LINE = 512;

export interface ServerOptions {
  idleTimeoutMs: number;
  maxClients: number;
  maxArticleSize: number;
  backend: Backend;
  /** The certificate, when one is configured: STARTTLS, and the implicit-TLS server. */
  secureContext?: SecureContext;
  /** The same certificate and key as PEM, for the implicit-TLS server. */
  keyCert?: { key: Buffer; cert: Buffer };
  onError?(err: Error): void;
}

/** The plain server (with STARTTLS when there is a certificate) and, with a certificate, the implicit-TLS one; both count toward maxClients. */
export function nntpServers(opts: ServerOptions): { plain: Server; tls?: Server } {
  const clients = { n: 0 };
  const plain = createServer((sock: Socket) => serve(sock, false, opts, clients));
  plain.maxConnections = opts.maxClients * 2;
  if (!opts.secureContext || !opts.keyCert) return { plain };
  const tls = createTlsServer({ key: opts.keyCert.key, cert: opts.keyCert.cert }, (sock) =>
    serve(sock, true, opts, clients),
  );
  tls.maxConnections = opts.maxClients * 2;
  tls.on('tlsClientError', () => {}); // a failed handshake concerns that client only
  return { plain, tls };
}

export function nntpServer(opts: ServerOptions): Server {
  return nntpServers(opts).plain;
}

function serve(conn: Socket, secure: boolean, opts: ServerOptions, clients: { n: number }) {
  {
    let sock: Socket = conn;
    clients.n++;
    conn.once('close', () => clients.n--);
    conn.on('error', () => conn.destroy());
    conn.setNoDelay(true);
    if (clients.n > opts.maxClients) {
      conn.end('400 too many connections; try again later\r\n');
      return;
    }
    const session = new Session(opts.backend, conn.remoteAddress ?? '?', secure);
    sock.setTimeout(opts.idleTimeoutMs, () => {
      sock.end('400 idle timeout; closing connection\r\n');
      setTimeout(() => sock.destroy(), 1000).unref();
    });
    sock.write(session.greeting());

    let buf: Buffer = Buffer.alloc(0);
    /** Reading an article after a 340: its lines, its size, whether it already passed the cap. */
    let article: { parts: Buffer[]; size: number; tooBig: boolean; midLine: boolean } | undefined;
    /** Discarding the rest of an over-long command line. */
    let skipping = false;
    let busy = false;
    let closed = false;
    conn.once('close', () => (closed = true));

    const send = (text: string) => {
      if (!closed) sock.write(text);
    };

    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (closed) return;
          const nl = buf.indexOf(0x0a);
          if (nl < 0) {
            if (!article && !skipping && buf.length > MAX_LINE) {
              // RFC 3977 3.1: a command line is at most 512 octets; drop the rest of it.
              skipping = true;
              buf = Buffer.alloc(0);
              send(`501 command line too long (at most ${MAX_LINE} octets)\r\n`);
            } else if (article && buf.length > opts.maxArticleSize + 4) {
              // A line longer than the cap: drop what came of it; its rest is not a line of its own.
              article.tooBig = true;
              article.midLine = true;
              article.parts = [];
              buf = Buffer.alloc(0);
            } else if (skipping) buf = Buffer.alloc(0);
            return;
          }
          const raw = buf.subarray(0, nl + 1);
          buf = buf.subarray(nl + 1);
          if (skipping) {
            skipping = false;
            continue;
          }
          if (article?.midLine) {
            article.midLine = false;
            continue;
          }
          if (article) {
            const text = raw.subarray(0, raw.length - (raw.length >= 2 && raw[raw.length - 2] === 0x0d ? 2 : 1));
            if (text.length === 1 && text[0] === 0x2e) {
              const a = article;
              article = undefined;
              if (a.tooBig) send(`${session.tooBig(opts.maxArticleSize)}\r\n`);
              else send(`${await session.article(Buffer.concat(a.parts))}\r\n`);
              continue;
            }
            if (a_tooBig(article, text.length, opts.maxArticleSize)) continue;
            // Views of what was read, not copies (buf is never written in place: only replaced): joined once at the end.
            article.parts.push(text.length && text[0] === 0x2e ? text.subarray(1) : text, CRLF);
            continue;
          }
          if (raw.length > MAX_LINE) {
            send(`501 command line too long (at most ${MAX_LINE} octets)\r\n`);
            continue;
          }
          const line = raw.toString('utf8').replace(/\r?\n$/, '');
          const reply = await session.handle(line);
          send(reply.text);
          if (reply.then === 'close') {
            sock.end();
            return;
          }
          if (reply.then === 'article') article = { parts: [], size: 0, tooBig: false, midLine: false };
          if (reply.then === 'starttls') {
            // RFC 4642: what the client sent after STARTTLS, before the handshake, is discarded.
            buf = Buffer.alloc(0);
            sock.removeListener('data', onData);
            const t = new TLSSocket(sock, { isServer: true, secureContext: opts.secureContext! });
            t.on('error', () => conn.destroy());
            t.on('data', onData);
            t.once('secure', () => {
              session.secure = true;
            });
            sock = t;
          }
        }
      } catch (err) {
        opts.onError?.(err as Error);
        send('403 internal fault; try again later\r\n');
      } finally {
        busy = false;
      }
      if (buf.indexOf(0x0a) >= 0) void pump();
    };

    const onData = (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      void pump();
    };
    sock.on('data', onData);
  }
}

/** Count a line of an article; true once the article passed the size cap (then its lines are dropped). */
function a_tooBig(a: { parts: Buffer[]; size: number; tooBig: boolean }, len: number, max: number): boolean {
  if (a.tooBig) return true;
  a.size += len + 2;
  if (a.size > max) {
    a.tooBig = true;
    a.parts = [];
    return true;
  }
  return false;
}
