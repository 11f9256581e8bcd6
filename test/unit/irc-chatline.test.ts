/**
 * chatLine (plugins/irc/incoming.ts): a PRIVMSG heard without irc-framework's command handler must be the very event
 * that handler emits. Each line is fed to a real irc-framework Client (no socket: its parser, its command handler),
 * and what the handler emits is compared with what chatLine makes of the same parsed line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import irc, { type IrcMessage } from 'irc-framework';
import { atMostEvery, chatLine, PING_RESET_MS } from '../../plugins/irc/incoming.js';

type Emitted = { type: string; ev: Record<string, unknown> };

/** What irc-framework's handler emits for `line`, and what chatLine makes of it (undefined: left to the handler). */
function both(line: string, statusmsg?: string): { handler: Emitted[]; ours: Emitted | undefined } {
  const client = new irc.Client();
  const network = client.network as unknown as { options: Record<string, unknown> };
  if (statusmsg) network.options.STATUSMSG = statusmsg.split('');
  const handler: Emitted[] = [];
  for (const type of ['privmsg', 'action', 'ctcp request'])
    client.on(type, (ev: Record<string, unknown>) => handler.push({ type, ev: { ...ev } }));
  let parsed: IrcMessage | undefined;
  client.connection.on('message', (m: IrcMessage) => (parsed = m));
  (client.connection as unknown as { addReadBuffer(l: string): void }).addReadBuffer(line);
  const ours = chatLine(client, parsed!);
  return { handler, ours: ours && { type: ours.type, ev: { ...ours.ev } } };
}

/** The handler's event without what it adds for its own use (reply(), batch: undefined outside a batch). */
function comparable(e: Emitted): Emitted {
  const { reply: _reply, batch: _batch, ...ev } = e.ev;
  return { type: e.type, ev: { ...ev, tags: { ...(ev.tags as object) } } };
}

const same = (line: string, statusmsg?: string) => {
  const { handler, ours } = both(line, statusmsg);
  assert.equal(handler.length, 1, `the handler emits one event for ${line}`);
  assert.ok(ours, `chatLine takes ${line}`);
  assert.deepEqual(comparable(ours), comparable(handler[0]!), line);
};

test('an ordinary channel line: the same event as irc-framework emits', () => {
  same(':alice!~a@host.example PRIVMSG #commons :hello there');
  same(':alice!~a@host.example PRIVMSG #commons hello');
});

test('tags: server-time (ISO and unix seconds), the services account, a client tag', () => {
  same('@time=2026-12-07T14:02:03.456Z;account=alice_acct;+peerpost/id=abc@node :alice!~a@h PRIVMSG #c :tagged');
  same('@time=1796652273.5 :alice!~a@h PRIVMSG #c :znc time');
  same('@time=nonsense;account :alice!~a@h PRIVMSG #c :odd tags');
});

test('a CTCP ACTION is an action; a STATUSMSG target keeps its channel and group', () => {
  same(':alice!~a@h PRIVMSG #c :\x01ACTION waves\x01');
  same(':alice!~a@h PRIVMSG @#c :ops only', '@+');
});

test('left to the handler: a line of a batch, any other CTCP, a line with no text', () => {
  for (const line of [
    '@batch=ref1 :alice!~a@h PRIVMSG #c :from history',
    ':alice!~a@h PRIVMSG #c :\x01VERSION\x01',
    ':alice!~a@h PRIVMSG #c :\x01PING 123\x01',
    ':alice!~a@h PRIVMSG #c :\x01',
  ])
    assert.equal(both(line).ours, undefined, line);
});

test('a person’s lines restart the ping timeout at most once every PING_RESET_MS, the first at once', () => {
  let t = 0;
  let restarts = 0;
  const alive = atMostEvery(
    PING_RESET_MS,
    () => restarts++,
    () => t,
  );
  alive();
  assert.equal(restarts, 1, 'the first line restarts it');
  for (t = 1; t < PING_RESET_MS; t += 1500) alive();
  assert.equal(restarts, 1, 'lines 1.5 s apart within the window do not');
  t = PING_RESET_MS;
  alive();
  assert.equal(restarts, 2, 'the first line once the window has passed does');
});
