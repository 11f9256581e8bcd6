/**
 * Where a relayed line's milliseconds go (bench/irc-pace with IRC_PACE_TRACE=1): preloaded into a relay written in
 * node (`node --import …/pace-trace.js`: peerpost, the floors), it stamps each measured line, on the clock the bench
 * stamps its own sends and receipts with (CLOCK_MONOTONIC, process.hrtime, the same in every process):
 *
 *   - `data`: when the bytes holding the line reached the relay's JavaScript (the socket's 'data' event);
 *   - `write`: when the relay began writing the relayed line (net.Socket#write called);
 *   - `written`: when that write returned (the line handed to the kernel).
 *
 * So the bench can split a line's time into the hop to the relay (the sender, the IRC server, the relay waking
 * up), the relay's own JavaScript, the write, and the hop back to the receiver. A diagnostic: it wraps two methods
 * of net.Socket and does nothing else; the figures of a run without it are the ones to quote.
 *
 * PACE_TRACE_OUT: the file to write the stamps to (JSON, at exit); PACE_TRACE_RE: a regular expression whose first
 * group names a measured line in the relayed text (the bench's tag and line number).
 */
import { writeFileSync } from 'node:fs';
import { Socket } from 'node:net';

export interface Stamps {
  data: number;
  write: number;
  written: number;
}

const ms = () => Number(process.hrtime.bigint()) / 1e6;

/** Wrap `proto`'s emit and write so that each line matching `re` is stamped into `rows` (by its first group). */
export function stampLines(proto: Pick<Socket, 'emit' | 'write'>, re: RegExp, rows: Record<string, Stamps>): void {
  let data = 0;
  const emit = proto.emit as (...a: unknown[]) => boolean;
  proto.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'data') data = ms();
    return emit.call(this, event, ...args);
  } as Socket['emit'];
  const write = proto.write;
  proto.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    const m = typeof chunk === 'string' ? re.exec(chunk) : null;
    if (!m?.[1]) return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    const began = ms();
    const r = (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    rows[m[1]] = { data, write: began, written: ms() };
    return r;
  } as Socket['write'];
}

const out = process.env.PACE_TRACE_OUT;
const pattern = process.env.PACE_TRACE_RE;
if (out && pattern) {
  const rows: Record<string, Stamps> = {};
  stampLines(Socket.prototype, new RegExp(pattern), rows);
  process.on('exit', () => writeFileSync(out, JSON.stringify(rows)));
}
