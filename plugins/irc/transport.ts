/**
 * irc-framework's TCP/TLS transport with three changes:
 * - each line from the server is decoded as UTF-8 when it is valid UTF-8 and as
 *   latin-1 otherwise (irc-framework decodes everything as UTF-8, turning latin-1
 *   text into U+FFFD); lines are split exactly as irc-framework 4.x does it;
 * - no Nagle: a relayed line goes out at once;
 * - a pinned certificate fingerprint (`tlsFingerprint`) is checked before a byte
 *   is sent; a mismatch closes the connection with an error saying so;
 * - a CA (`tlsCa`, PEM) to verify the server with: irc-framework 4.x passes the
 *   client certificate to tls.connect but not `ca`, so a TLS connection is made
 *   here (the same options as irc-framework's, plus `ca`).
 */
import { createRequire } from 'node:module';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import { decodeLenient } from './text.js';

const require = createRequire(import.meta.url);

interface NetTransportBase {
  options: Record<string, unknown>;
  state: number;
  requested_disconnect: boolean;
  connect(): void;
  disposeSocket(): void;
  setEncoding(encoding: string): boolean;
  getAddressFamily(addr: unknown): string | undefined;
  _onSocketCreate(options: Record<string, unknown>, socket: Socket): void;
  incoming_buffer: Buffer;
  last_socket_error: Error | null;
  socket: (Socket & { socket?: Socket }) | null;
  onSocketRawConnected(): void;
  onSocketFullyConnected(): void;
  emit(event: string, ...args: unknown[]): boolean;
}
type NetTransportClass = new (options: unknown) => NetTransportBase;

// The transport module is not a public export of irc-framework (no "exports" map in 4.x, so it resolves).
const NetTransport = require('irc-framework/src/transports/net.js') as NetTransportClass;

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

/** irc-framework's "connecting" socket state. */
const SOCK_CONNECTING = 1;

export class IrcTransport extends NetTransport {
  override connect(): void {
    const o = this.options;
    const ca = o[CA_OPTION];
    if (!o.tls || typeof ca !== 'string' || o.socks) return super.connect();
    // irc-framework's own TLS connect (transports/net.js), with `ca`.
    const host = String(o.host);
    this.disposeSocket();
    this.requested_disconnect = false;
    this.incoming_buffer = Buffer.from('');
    if (typeof o.encoding !== 'string' || !this.setEncoding(o.encoding)) this.setEncoding('utf8');
    this.state = SOCK_CONNECTING;
    const cc = o.client_certificate as { private_key?: string; certificate?: string } | undefined;
    const socket = tlsConnect({
      ...(this.getAddressFamily(host) ? {} : { servername: host }),
      host,
      port: Number(o.port) || 6697,
      ca,
      rejectUnauthorized: o.rejectUnauthorized !== false,
      ...(cc?.private_key ? { key: cc.private_key } : {}),
      ...(cc?.certificate ? { cert: cc.certificate } : {}),
    });
    this.socket = socket;
    this._onSocketCreate(o, socket);
  }

  override onSocketRawConnected(): void {
    (this.socket?.socket ?? this.socket)?.setNoDelay(true);
    super.onSocketRawConnected();
  }

  override onSocketFullyConnected(): void {
    const pin = this.options[FINGERPRINT_OPTION];
    if (typeof pin === 'string' && this.socket instanceof TLSSocket) {
      const got = this.socket.getPeerCertificate()?.fingerprint256 ?? '';
      if (normalFingerprint(got) !== normalFingerprint(pin)) {
        this.last_socket_error = new Error(
          `the server's certificate has the SHA-256 fingerprint ${got || '(none)'}, not the pinned tlsFingerprint`,
        );
        this.socket.destroy();
        return;
      }
    }
    super.onSocketFullyConnected();
  }

  onSocketData(data: Buffer): void {
    this.incoming_buffer = this.incoming_buffer.length ? Buffer.concat([this.incoming_buffer, data]) : data;
    let start = 0;
    for (;;) {
      const end = this.incoming_buffer.indexOf(0x0a, start) + 1;
      if (end === 0) {
        this.incoming_buffer = this.incoming_buffer.subarray(start);
        break;
      }
      this.emit('line', decodeLenient(this.incoming_buffer.subarray(start, end)));
      start = end;
    }
  }
}
