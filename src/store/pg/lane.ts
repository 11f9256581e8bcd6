/**
 * The ingest lane of PgDatabase (issue 17): a second worker thread (worker.ts, the same code) with its own
 * connection, on which the core's group commit runs without blocking the daemon (Store.ingestPostsAsync). Its
 * statement commits by itself (no transaction of the main connection is ever open on it), so the two connections
 * are what two processes on one database are to each other: the posts lock orders their inserts.
 *
 * Why: on the main connection the daemon's thread waits (Atomics.wait) while PostgreSQL commits a batch, and the
 * posts that arrive meanwhile wait in the socket. Here the thread goes on taking posts (parsing, checking, routing
 * them) while PostgreSQL commits the batch before, which uses the machine's second core (bench/pg.ts).
 *
 * Started at its first request; it connects then (and again after a lost connection, as the main one). One
 * request's answer is matched by its id; one given up on (waitMs without an answer) fails with PG_TIMEOUT and its
 * late answer is dropped.
 */
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Body, Response, WorkerConfig } from './protocol.js';

type Waiting = { resolve: (r: Response) => void; timer: NodeJS.Timeout };

export class PgLane {
  private worker?: Worker;
  private port?: MessagePort;
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();
  private closed = false;

  constructor(
    private readonly script: URL,
    private readonly config: WorkerConfig,
    /** How long an answer is waited for before the request fails (PG_TIMEOUT). */
    private readonly waitMs: number,
  ) {}

  /** Requests sent and not answered yet. */
  get busy(): number {
    return this.waiting.size;
  }

  /** One request; its answer (a failure is an answer too: `ok: false`). */
  send(req: Body): Promise<Response> {
    if (this.closed)
      return Promise.resolve({ ok: false, error: { message: 'the PostgreSQL store is closed', code: 'PG_CLOSED' } });
    const port = this.start();
    const id = ++this.seq;
    return new Promise<Response>((resolve) => {
      const timer = setTimeout(() => {
        this.settle(id, {
          ok: false,
          error: { message: `no answer within ${this.waitMs} ms`, code: 'PG_TIMEOUT' },
        });
      }, this.waitMs);
      this.waiting.set(id, { resolve, timer });
      port.ref();
      port.postMessage({ ...req, id, outside: true });
    });
  }

  private start(): MessagePort {
    if (this.port) return this.port;
    const flag = new SharedArrayBuffer(4); // worker.ts wakes a waiting thread with it; nobody waits on this one
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(this.script, {
      workerData: { port: port2, flag, config: this.config },
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on('error', (err) => this.failAll(`the ingest lane's worker stopped: ${err.message}`));
    port1.on('message', (res: Response & { id: number }) => this.settle(res.id, res));
    port1.unref();
    this.port = port1;
    return port1;
  }

  private settle(id: number, res: Response): void {
    const w = this.waiting.get(id);
    if (!w) return; // given up on already
    this.waiting.delete(id);
    clearTimeout(w.timer);
    if (this.waiting.size === 0) this.port?.unref();
    w.resolve(res);
  }

  private failAll(message: string): void {
    for (const id of [...this.waiting.keys()])
      this.settle(id, { ok: false, error: { message, code: 'PG_UNAVAILABLE' } });
  }

  /** End the connection and the worker; what still waits fails (PG_CLOSED). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.waiting.keys()])
      this.settle(id, { ok: false, error: { message: 'the PostgreSQL store is closed', code: 'PG_CLOSED' } });
    const worker = this.worker;
    const port = this.port;
    if (!worker || !port) return;
    // The worker ends its connection (a Terminate message to the server), answers, and is stopped then; or in a
    // second, whatever it does.
    const stop = () => {
      clearTimeout(timer);
      port.close();
      void worker.terminate();
    };
    const timer = setTimeout(stop, 1000);
    timer.unref();
    port.removeAllListeners('message');
    port.on('message', stop);
    port.postMessage({ op: 'close', id: ++this.seq, outside: true });
  }
}
