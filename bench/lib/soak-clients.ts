/**
 * A worker thread of bench/soak.ts: `clients` WebSocket clients on the live
 * stream of one bridge (/api/stream?bridge=B), for as long as the soak runs.
 *
 * Every client counts the posts it is sent (digests apart: a digest retells
 * lines the stream sent already) and checks that seq only grows (a post sent
 * twice would not). Client 0 also reads each post's tokens (from its subject
 * and body) and reports them with the time they arrived, for the exactly-once
 * count and the ingest→deliver latency.
 *
 * Messages to the parent: { ready } once every client is live; { arrivals } about
 * once a second (client 0's [token, ms since the epoch] pairs); { final } on
 * { report } from the parent (every client's counts), after which the sockets close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';

const { port, clients, bridge, tokenRe } = workerData as {
  port: number;
  clients: number;
  bridge: string;
  tokenRe: string;
};

interface Count {
  posts: number;
  digests: number;
  repeats: number;
  closed: boolean;
}
const counts: Count[] = [];
const sockets: WebSocket[] = [];
let arrivals: [string, number][] = [];
let live = 0;
const SEQ = /"seq":(\d+)/;
const KIND = /"kind":"([a-z]+)"/;
const re = new RegExp(tokenRe, 'g');

for (let i = 0; i < clients; i++) {
  const c: Count = { posts: 0, digests: 0, repeats: 0, closed: false };
  counts.push(c);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/stream?bridge=${encodeURIComponent(bridge)}`, {
    perMessageDeflate: false,
  });
  sockets.push(ws);
  let last = 0;
  ws.on('message', (data) => {
    const text = data.toString();
    // Cheap extraction for the 199 others; a full JSON.parse only for client 0.
    if (!text.startsWith('{"type":"post"')) {
      if (JSON.parse(text).type === 'live' && ++live === clients) parentPort!.postMessage({ ready: true });
      return;
    }
    const seq = Number(SEQ.exec(text)?.[1]);
    if (seq <= last) c.repeats++;
    last = seq;
    if (KIND.exec(text)?.[1] === 'digest') {
      c.digests++;
      return;
    }
    c.posts++;
    if (i === 0) {
      const t = Date.now();
      const p = JSON.parse(text).post as { subject?: string; body?: string };
      for (const m of `${p.subject ?? ''}\n${p.body ?? ''}`.matchAll(re)) arrivals.push([m[0], t]);
    }
  });
  ws.on('close', () => (c.closed = true));
  ws.on('error', () => {});
}

const flush = setInterval(() => {
  if (arrivals.length === 0) return;
  parentPort!.postMessage({ arrivals });
  arrivals = [];
}, 1000);

parentPort!.on('message', (m: { report?: boolean }) => {
  if (!m.report) return;
  clearInterval(flush);
  parentPort!.postMessage({ arrivals });
  arrivals = [];
  parentPort!.postMessage({ final: counts.map((c) => ({ ...c })) });
  for (const ws of sockets) ws.terminate();
});
