/**
 * irc-framework's TCP/TLS transport with three changes:
 * - each line from the server is decoded as UTF-8 when it is valid UTF-8 and as
 *   latin-1 otherwise (irc-framework decodes everything as UTF-8, turning latin-1
 *   text into U+FFFD); lines are split exactly as irc-framework 4.x does it;
 * - no Nagle: a relayed line goes out at once;
 * - a pinned certificate fingerprint (`tlsFingerprint`) is checked before a byte
 *   is sent; a mismatch closes the connection with an error saying so.
 */
import { createRequire } from 'node:module';
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { decodeLenient } from './text.js';

const require = createRequire(import.meta.url);

interface NetTransportBase {
  options: Record<string, unknown>;
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

/** The client option that carries the pin to the transport. */
export const FINGERPRINT_OPTION = 'peerpost_tls_fingerprint';

export class IrcTransport extends NetTransport {
  override onSocketRawConnected(): void {
    (this.socket?.socket ?? this.socket)?.setNoDelay(true);
    super.onSocketRawConnected();
  }

  override onSocketFullyConnected(): void {
    const pin = this.options[FINGERPRINT_OPTION];
    if (typeof pin === 'string' && this.socket instanceof TLSSocket) {
      const got = this.socket.getPeerCertificate()?.fingerprint256 ?? '';
      if (normalFingerprint(got) !== normalFingerprint(pin)) {
        this.last_socket_error = new Error(`the server's certificate has the SHA-256 fingerprint ${got || '(none)'}, not the pinned tlsFingerprint`);
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
