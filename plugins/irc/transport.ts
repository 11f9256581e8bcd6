/**
 * The TCP/TLS connection irc-framework's Client talks through (its `transport` option): the events and methods its
 * Connection uses (connect, writeLine, close, disposeSocket, setEncoding; 'open', 'line', 'close', 'debug', 'extra'),
 * written here rather than taken from irc-framework's own (transports/net.js), with these differences:
 * - each line from the server is decoded as UTF-8 when it is valid UTF-8 and as latin-1 otherwise (irc-framework
 *   decodes everything as UTF-8, turning latin-1 text into U+FFFD); lines are split as irc-framework 4.x splits them;
 * - no Nagle: a relayed line goes out at once;
 * - a pinned certificate fingerprint (`tlsFingerprint`) is checked before a byte is sent; a mismatch closes the
 *   connection with an error saying so;
 * - a CA (`tlsCa`, PEM) to verify the server with (irc-framework 4.x passes the client certificate to tls.connect,
 *   not `ca`);
 * - no SOCKS proxy and no other encoding than UTF-8 (the config offers neither): irc-framework's transport loads a
 *   SOCKS client and iconv-lite at its start, and node's TLS is loaded only for an account that uses TLS (issue 18:
 *   the daemon's memory with one IRC account, ~2 MB less than with irc-framework's transport).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decodeLenient } from './text.js';

const require = createRequire(import.meta.url);

/** node:tls, loaded at the first TLS connection. */
let tlsModule: typeof import('node:tls') | undefined;
const tls = (): typeof import('node:tls') => (tlsModule ??= require('node:tls') as typeof import('node:tls'));

/** "ab:CD:…" or "abcd…" → "AB:CD:…"; undefined when it is not 32 bytes of hex. */
export function normalFingerprint(fp: string): string | undefined {
  const hex = fp.replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** The client option that carries the CA certificates (PEM) to the transport. */
export const CA_OPTION = 'peerpost_tls_ca';

/** The client option that carries the pin to the transport. */
export const FINGERPRINT_OPTION = 'peerpost_tls_fingerprint';

/** The socket's states, as irc-framework's Connection knows them. */
const DISCONNECTED = 0;
const CONNECTING = 1;
const CONNECTED = 2;

/** The client options the transport reads (irc-framework passes the Client's whole options object). */
interface TransportOptions {
  host?: unknown;
  port?: unknown;
  tls?: unknown;
  ssl?: unknown;
  rejectUnauthorized?: unknown;
  client_certificate?: { private_key?: string; certificate?: string };
  ping_interval?: unknown;
  ping_timeout?: unknown;
  [CA_OPTION]?: unknown;
  [FINGERPRINT_OPTION]?: unknown;
  [key: string]: unknown;
}

export class IrcTransport extends EventEmitter {
  readonly options: TransportOptions;
  socket: Socket | null = null;
  state = DISCONNECTED;
  requested_disconnect = false;
  last_socket_error: Error | null = null;
  encoding = 'utf8';
  private incoming: Buffer = Buffer.alloc(0);
  private unbind: (() => void)[] = [];

  constructor(options?: TransportOptions) {
    super();
    this.options = options ?? {};
  }

  isConnected(): boolean {
    return this.state === CONNECTED;
  }

  private debugOut(out: string): void {
    this.emit('debug', `IrcTransport ${out}`);
  }

  connect(): void {
    const o = this.options;
    const host = String(o.host);
    const secure = Boolean(o.tls || o.ssl);
    const port = Number(o.port) || (secure ? 6697 : 6667);
    this.disposeSocket();
    this.requested_disconnect = false;
    this.incoming = Buffer.alloc(0);
    this.state = CONNECTING;
    this.debugOut(`connecting to ${host}:${port}${secure ? ' (TLS)' : ''}`);
    let socket: Socket;
    if (secure) {
      const cc = o.client_certificate;
      const ca = o[CA_OPTION];
      socket = tls().connect({
        ...(isIP(host) ? {} : { servername: host }),
        host,
        port,
        ...(typeof ca === 'string' ? { ca } : {}),
        rejectUnauthorized: o.rejectUnauthorized !== false,
        ...(cc?.private_key ? { key: cc.private_key } : {}),
        ...(cc?.certificate ? { cert: cc.certificate } : {}),
      });
    } else socket = netConnect({ host, port });
    this.socket = socket;
    const interval = Number(o.ping_interval);
    const timeout = Number(o.ping_timeout);
    if (interval > 0 && timeout > 0) socket.setTimeout((interval + timeout) * 1000);
    this.on_(socket, 'connect', () => this.rawConnected());
    if (secure) this.on_(socket, 'secureConnect', () => this.fullyConnected());
    this.on_(socket, 'close', () => {
      this.debugOut('closed');
      this.state = DISCONNECTED;
      this.emit('close', this.last_socket_error ?? false);
    });
    this.on_(socket, 'error', (err: Error) => {
      this.debugOut(`error: ${err.message}`);
      this.last_socket_error = err;
    });
    this.on_(socket, 'data', (data: Buffer) => this.data(data));
    this.on_(socket, 'timeout', () => {
      this.debugOut('no data within the ping timeout');
      this.close(true);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the socket's listeners, each with its own arguments
  private on_(socket: Socket, event: string, fn: (...args: any[]) => void): void {
    socket.on(event, fn);
    this.unbind.push(() => socket.off(event, fn));
  }

  /** TCP is up (before the TLS handshake, with TLS). */
  private rawConnected(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.setNoDelay(true);
    this.state = CONNECTED;
    this.emit('extra', 'raw socket connected', socket);
    if (!this.options.tls && !this.options.ssl) this.fullyConnected();
  }

  /** Ready for the IRC registration: TCP up, and with TLS the handshake done and the pin (if any) matched. */
  private fullyConnected(): void {
    const pin = this.options[FINGERPRINT_OPTION];
    const socket = this.socket;
    if (typeof pin === 'string' && socket && tlsModule && socket instanceof tlsModule.TLSSocket) {
      const got = (socket as TLSSocket).getPeerCertificate()?.fingerprint256 ?? '';
      if (normalFingerprint(got) !== normalFingerprint(pin)) {
        this.last_socket_error = new Error(
          `the server's certificate has the SHA-256 fingerprint ${got || '(none)'}, not the pinned tlsFingerprint`,
        );
        socket.destroy();
        return;
      }
    }
    this.last_socket_error = null;
    this.emit('open');
  }

  /** What the server sent: one 'line' event a line (LF-ended, the CR left for irc-framework's parser to drop). */
  private data(data: Buffer): void {
    let buf = this.incoming.length ? Buffer.concat([this.incoming, data]) : data;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(0x0a, start) + 1;
      if (end === 0) break;
      this.emit('line', decodeLenient(buf.subarray(start, end)));
      start = end;
    }
    buf = buf.subarray(start);
    this.incoming = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }

  writeLine(line: string, cb?: (err?: Error | null) => void): boolean | undefined {
    if (this.socket && this.isConnected()) return this.socket.write(`${line}\r\n`, cb);
    this.debugOut('writeLine() called when not connected');
    if (cb) process.nextTick(cb);
    return undefined;
  }

  disposeSocket(): void {
    if (this.socket && this.state !== DISCONNECTED) this.socket.destroy();
    if (this.socket) {
      for (const u of this.unbind) u();
      this.unbind = [];
      this.socket = null;
    }
  }

  close(force?: boolean): void {
    if (!this.socket) return;
    if (this.state === CONNECTING || force) this.socket.destroy();
    else if (this.state === CONNECTED) this.socket.end();
  }

  /** Only UTF-8 (the config offers no other encoding; a line that is not valid UTF-8 is read as latin-1). */
  setEncoding(encoding: string): boolean {
    const utf8 = /^utf-?8$/i.test(encoding);
    if (utf8) this.encoding = 'utf8';
    return utf8;
  }
}
