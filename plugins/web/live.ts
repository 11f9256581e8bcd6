/**
 * The live side of the API: the Stream of /api/stream (stream.ts) with the posts a client sends on it (a token
 * in each message), and the WebSocket upgrade that admits a client: the path, the page's origin, the bridge, the
 * cursor and the number of clients are checked before the handshake, and a refusal is a plain HTTP answer.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { cursor } from './http.js';
import { parsePostInput, webPost } from './posting.js';
import type { Site } from './site.js';
import { Stream, type StreamClient } from './stream.js';
import type { Tokens } from './tokens.js';

export function createLive(site: Site, tokens: () => Tokens) {
  const { d, cfg, byName, byBridge, toJson, publicView, allowedOrigin } = site;
  const c0 = cfg();
  const stream = new Stream({
    posts: d.posts,
    log: d.log,
    maxBuffered: c0.stream.maxBuffered,
    heartbeatMs: c0.stream.heartbeat,
    stallMs: Math.max(10_000, c0.stream.heartbeat),
    // The stream is public (it takes no token): addresses as the pages show them.
    toJson: (p) => toJson(publicView()(p)),
    async onMessage(c: StreamClient, msg: unknown) {
      const m = msg as Record<string, unknown>;
      const ref = typeof m?.ref === 'string' || typeof m?.ref === 'number' ? { ref: m.ref } : {};
      if (m?.type !== 'post')
        return {
          type: 'error',
          ...ref,
          error: 'unknown message: the stream takes {"type":"post","token":"…","body":"…"}',
        };
      if (!tokens().enabled)
        return { type: 'error', ...ref, error: 'posting from the web is off (no token is configured)' };
      const grant = typeof m.token === 'string' ? tokens().check(m.token) : undefined;
      if (!grant) return { type: 'error', ...ref, error: 'the token is not valid' };
      const { type: _t, token: _k, ref: _r, ...rest } = m;
      const input = parsePostInput(rest);
      if (typeof input === 'string') return { type: 'error', ...ref, error: input };
      const s = byBridge(c.bridge);
      if (!s) return { type: 'error', ...ref, error: 'this bridge is no longer served here' };
      const a = await webPost(d, grant, s, input);
      return { type: 'posted', ...ref, ...a.body };
    },
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: c0.stream.maxMessage,
    clientTracking: false,
    perMessageDeflate: false,
  });

  const reject = (socket: Duplex, status: number, text: string) => {
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : status === 503 ? 'Service Unavailable' : 'Bad Request'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/stream')
      return reject(socket, 404, 'WebSockets are served at /api/stream?bridge=NAME&since=CURSOR');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigin(origin)) {
      // Same origin: the page came from this server, as reached directly (Host) or through the proxy (publicUrl).
      let same: boolean;
      try {
        same = new URL(origin).host === req.headers.host || new URL(origin).origin === new URL(d.postUrl('x@y')).origin;
      } catch {
        same = false;
      }
      if (!same) return reject(socket, 403, `pages of ${origin} may not open the stream (see corsOrigins)`);
    }
    const name = url.searchParams.get('bridge');
    const s = name ? byName(name) : undefined;
    if (!s) return reject(socket, 404, name ? `no bridge ${name} here` : 'name the bridge: /api/stream?bridge=NAME');
    let since: number | undefined;
    try {
      since = cursor(url.searchParams.get('since'), 'since');
    } catch (err) {
      return reject(socket, 400, (err as Error).message);
    }
    if (stream.clients.size >= cfg().stream.maxClients)
      return reject(socket, 503, `too many stream clients (${cfg().stream.maxClients}); try again later`);
    wss.handleUpgrade(req, socket, head, (ws) => stream.attach(ws, s.bridge, s.name, since));
  };

  return {
    stream,
    onUpgrade,
    /** Close every client (1001), then the WebSocket server. */
    async close() {
      await stream.close();
      wss.close();
    },
  };
}
