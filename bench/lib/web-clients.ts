/**
 * A worker thread of bench/web.ts: opens `clients` WebSocket clients on one
 * bridge, and for every post each client receives records the latency from the
 * moment the post was sent (a wall-clock time in ms, in the post's body) to now.
 * Messages to the parent: { ready } once every client is live; { done, ... }
 * once every client has `expect` posts (or on { report } from the parent).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

const { port, clients, expect, bridge } = workerData as {
  port: number;
  clients: number;
  expect: number;
  bridge: string;
};
const now = () => performance.timeOrigin + performance.now();
const latencies = new Float64Array(clients * expect);
let n = 0;
let outOfOrder = 0;
let closedEarly = 0;
let live = 0;
let complete = 0;
const sockets: WebSocket[] = [];
const SEQ = /"seq":(\d+)/;
const SENT = /\\"t\\":([\d.]+)/;

function report(): void {
  parentPort!.postMessage({ done: true, received: n, outOfOrder, closedEarly, latencies: latencies.slice(0, n) });
  for (const ws of sockets) ws.terminate();
}

for (let i = 0; i < clients; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/stream?bridge=${bridge}`, { perMessageDeflate: false });
  sockets.push(ws);
  let got = 0;
  let last = 0;
  ws.on('message', (data) => {
    const t = now();
    const text = data.toString();
    // Cheap extraction (a full JSON.parse of each of 1,000,000 frames would make this side the bottleneck).
    if (!text.startsWith('{"type":"post"')) {
      if (JSON.parse(text).type === 'live' && ++live === clients) parentPort!.postMessage({ ready: true });
      return;
    }
    const seq = Number(SEQ.exec(text)![1]);
    const sent = Number(SENT.exec(text)![1]);
    latencies[n++] = t - sent;
    if (seq <= last) outOfOrder++;
    last = seq;
    if (++got === expect && ++complete === clients) report();
  });
  ws.on('close', () => {
    if (got < expect) closedEarly++;
  });
  ws.on('error', () => {});
}

parentPort!.on('message', (m: { report?: boolean }) => {
  if (m.report) report();
});
