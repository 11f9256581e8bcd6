/**
 * Nothing said on IRC is lost while the bot is away (plugins/irc/replay.ts), against a real Ergo, the
 * IRCv3 reference server, whose `draft/chathistory` keeps a channel's lines while someone is in it.
 *
 * The daemon bridges #talk on Ergo to a chat sink (records every post it is given, in order), to the
 * built-in news server's group peerpost.talk and to the mailing list talk@lists.test.example (both get the
 * channel's talk as digests), read at the end with Python's nntplib and from the Maildir of the SMTP sink
 * (aiosmtpd) the list's mail goes to.
 * The bot reaches Ergo through a TCP relay in this test, so that the test can cut its connection (from
 * the bot's side and from Ergo's at once: Ergo sees the bot quit) and keep it out while people talk.
 * After each reconnect every line said meanwhile reaches the sink once and in order, before the lines
 * said after it; HistServ's join and part lines and the bot's own lines in the history are not posts;
 * nothing comes twice across a second reconnect and a restart of peerpost (kill -9); and a gap beyond
 * history.maxLines is reported in the log and in `peerpost status`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { world, cli, cliPost, startDaemon, until, type World, type Running } from '../helpers/daemon.js';
import { ensureErgo, startErgo, stopErgo, freePort, User, type Ircd } from './irc-helpers.js';
import { NewsPlace } from '../helpers/e2e.js';
import { MailPlace } from '../helpers/e2e-places.js';
import { requirePeer } from '../peers/require.js';

/** A TCP relay to Ergo whose connections the test can cut, and keep cut. */
class Cutter {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private held = false;
  port = 0;

  async start(to: number): Promise<void> {
    const server = createServer((inbound) => {
      inbound.on('error', () => {});
      if (this.held) return void inbound.destroy();
      const outbound = connect(to, '127.0.0.1');
      outbound.on('error', () => {});
      const pair: [Socket, Socket] = [inbound, outbound];
      this.pairs.add(pair);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      const end = () => {
        this.pairs.delete(pair);
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('close', end);
      outbound.on('close', end);
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Cut every connection and refuse new ones until release(). */
  cut(): void {
    this.held = true;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
  }

  release(): void {
    this.held = false;
  }

  /** Cut and stop listening (nothing to do when start() never ran: a peer missing before it). */
  close(): void {
    this.cut();
    this.server?.close();
  }
}

let ergo: Ircd | undefined;
const cutter = new Cutter();
let w: World;
let d: Running | undefined;
let alice: User;
let bob: User | undefined;
let otherRelay: User | undefined;

const bodies = () => w.delivered('out').map((x) => x.body);
const count = (u: User, re: RegExp) => u.lines.filter((l) => re.test(l)).length;
const botJoins = () => count(alice, /^(@\S+ )?:relay!\S+ JOIN #talk/);
const botQuits = () => count(alice, /^(@\S+ )?:relay!\S+ QUIT/);
const replays = () =>
  d ? d.logs.filter((l) => /history of #talk: \d+ lines? said while away replayed/.test(l)).length : 0;

async function say(u: User, ...lines: string[]): Promise<void> {
  for (const l of lines) u.send(`PRIVMSG #talk :${l}`);
  // Ergo echoes nothing to the sender without echo-message: a PING's answer says it took every line.
  const token = `t${Date.now()}${Math.random()}`.replace('.', '');
  u.send(`PING ${token}`);
  await u.waitFor((l) => l.includes('PONG') && l.includes(token), `PONG ${token}`);
}

async function start(): Promise<void> {
  d = await startDaemon(w.config);
}

/** Cut the bot off, wait until Ergo has seen it go. */
async function cutBot(): Promise<void> {
  const quits = botQuits();
  cutter.cut();
  await until(() => botQuits() > quits, 'Ergo to see the bot quit');
}

/** Let the bot back in; resolves once it rejoined and its replay of #talk is over. */
async function letBack(): Promise<void> {
  const joins = botJoins();
  const done = replays();
  cutter.release();
  await until(() => botJoins() > joins, 'the bot to rejoin #talk', 20_000);
  await until(() => replays() > done, 'the replay of #talk', 20_000);
}

let news: NewsPlace;
let mail: MailPlace;
const MEMBER = 'ann@sub.example';

before(async () => {
  ensureErgo();
  requirePeer('python3');
  news = await NewsPlace.make('news', 'nntp.local', 'peerpost.talk');
  mail = await MailPlace.make('mail', 'mail.lists', 'talk', 'lists.test.example', [MEMBER]);
  const m = mail.accountConfig() as { smtp: { port: number } };
  const port = await freePort();
  w = world();
  ergo = startErgo(port, join(w.dir, 'ergo'));
  await cutter.start(port);
  alice = await new User('alice').connect(port, '#talk');
  w.writeConfig(`accounts:
  irc.ergo:
    host: 127.0.0.1
    port: ${cutter.port}
    tls: false
    nick: relay
    reconnect: { first: 200ms, max: 500ms }
    rejoinAfterKick: 300ms
    history: { maxLines: 8 }
    relays: { nicks: [bridgebot] }
  sink.out:
    file: ${w.sink('out')}
  nntp.local:
    listen: 127.0.0.1:${news.port}
  mail.lists:
    domain: lists.test.example
    listen: 127.0.0.1:${mail.port}
    limits: { exempt: [127.0.0.1] }
    smtp: { host: 127.0.0.1, port: ${m.smtp.port}, fromRewrite: never, timeout: 5s }
bridges:
  talk:
    digest: { quiet: 1s }
    endpoints:
      - irc.ergo/#talk
      - sink.out/talk
      - nntp.local/peerpost.talk
      - { endpoint: mail.lists/talk, policy: open }
`);
  await start();
  const sub = await cli(['subscribers', 'talk', 'add', MEMBER, '-c', w.config]);
  assert.equal(sub.code, 0, sub.stderr);
  await until(() => botJoins() > 0, 'the bot to join #talk', 20_000);
});

after(async () => {
  alice?.close();
  bob?.close();
  otherRelay?.close();
  await d?.stop();
  cutter.close();
  stopErgo(ergo);
  await mail?.cleanup();
  w?.cleanup();
});

test('lines said while the bot is cut off arrive once, in order, before the lines said after it', async () => {
  await say(alice, 'live one');
  await until(() => bodies().includes('live one'), 'the first live line at the sink');
  // A post from elsewhere: the bot says it in #talk, where the history keeps it as the bot's own line.
  await cliPost(w, 'talk', 'carol@example.org', 'from the bridge');
  await alice.waitFor((l) => l.includes('from the bridge'), 'the bot to say the post');

  await cutBot();
  await say(alice, 'away 1', 'away 2', 'away 3');
  bob = await new User('bob').connect(ergo!.port, '#talk');
  await say(bob, 'bob was here');
  bob.send('PART #talk :gone');
  // Another relay's line in the history is treated as it is live: not relayed (relays.nicks).
  otherRelay = await new User('bridgebot').connect(ergo!.port, '#talk');
  await say(otherRelay, '<zoe> from another bridge');
  // And a line another relay said with RELAYMSG (alice, who made the channel, is its chanop): Ergo's history
  // keeps it without its draft/relaymsg tag, as an ordinary line from "zed/matrix".
  alice.send('RELAYMSG #talk zed/matrix :relayed by a bridge');
  await otherRelay.waitFor((l) => /^:zed\/matrix!\S+ PRIVMSG #talk :relayed by a bridge/.test(l), 'the RELAYMSG line');
  await say(alice, 'away 4', '\x01ACTION waves\x01');
  // Said the moment the bot is back in: it comes after the replay, whether it is in the answer or live.
  const joins = botJoins();
  const done = replays();
  const released = Date.now();
  cutter.release();
  await until(() => botJoins() > joins, 'the bot to rejoin #talk', 20_000);
  await say(alice, 'right after the join');
  await until(() => replays() > done, 'the replay of #talk', 20_000);
  await until(() => bodies().includes('right after the join'), 'the line said after the join at the sink');
  assert.deepEqual(bodies(), [
    'live one',
    'from the bridge',
    'away 1',
    'away 2',
    'away 3',
    'bob was here',
    'away 4',
    'waves',
    'right after the join',
  ]);
  const out = w.delivered('out');
  // Each replayed line is a post whose id comes from its msgid; an action stays an action.
  for (const x of out.slice(2)) assert.match(x.id, /^irc\.[^@]+@test\.example$/);
  assert.equal((out.find((x) => x.body === 'waves') as { kind?: string } | undefined)?.kind, 'action');
  // Dated by their server-time: said before the bot was let back in, not when it relayed them.
  const db = new Database(join(w.data, 'peerpost.db'), { readonly: true });
  try {
    for (const body of ['away 1', 'away 4']) {
      const row = db
        .prepare('SELECT data, received_at FROM posts WHERE id = ?')
        .get(out.find((x) => x.body === body)!.id) as { data: string; received_at: number };
      const date = Date.parse((JSON.parse(row.data) as { date: string }).date);
      assert.ok(date < released && row.received_at >= released, `${body}: dated ${date}, stored ${row.received_at}`);
    }
  } finally {
    db.close();
  }
});

test('nothing comes twice across a second reconnect with nothing said', async () => {
  const before = bodies().length;
  await cutBot();
  await letBack();
  await say(alice, 'after the second reconnect');
  await until(() => bodies().includes('after the second reconnect'), 'the next live line at the sink');
  assert.deepEqual(bodies().slice(before), ['after the second reconnect']);
});

test('a kick: after the rejoin, what was said meanwhile arrives too', async () => {
  const before = bodies().length;
  const joins = botJoins();
  const done = replays();
  // alice made the channel: she is its operator.
  alice.send('KICK #talk relay :out for a moment');
  await say(alice, 'while kicked');
  await until(() => botJoins() > joins, 'the bot to rejoin after the kick', 20_000);
  await until(() => replays() > done, 'the replay after the rejoin', 20_000);
  await say(alice, 'after the rejoin');
  await until(() => bodies().includes('after the rejoin'), 'the line after the rejoin at the sink');
  assert.deepEqual(bodies().slice(before), ['while kicked', 'after the rejoin']);
});

test('a restart of peerpost (kill -9) catches up too, and says nothing twice', async () => {
  const before = bodies().length;
  await say(alice, 'just before the kill');
  await until(() => bodies().includes('just before the kill'), 'the line before the kill at the sink');
  const quits = botQuits();
  await d!.stop('SIGKILL');
  await until(() => botQuits() > quits, 'Ergo to see the killed bot go');
  await say(alice, 'while down 1', 'while down 2');
  const joins = botJoins();
  await start();
  await until(() => botJoins() > joins, 'the bot to rejoin after the restart', 20_000);
  await until(() => replays() > 0, 'the replay after the restart', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${d!.logs.filter((l) => /history|join|CHATHISTORY/i.test(l)).join('\n')}`);
  });
  await say(alice, 'after the restart');
  await until(() => bodies().includes('after the restart'), 'the line after the restart at the sink');
  assert.deepEqual(bodies().slice(before), [
    'just before the kill',
    'while down 1',
    'while down 2',
    'after the restart',
  ]);
});

test('more than history.maxLines said while away: the newest are replayed, the gap is reported', async () => {
  const before = bodies().length;
  await cutBot();
  await say(alice, ...Array.from({ length: 12 }, (_, i) => `gap ${i + 1}`));
  await letBack();
  await say(alice, 'after the gap');
  await until(() => bodies().includes('after the gap'), 'the line after the gap at the sink');
  assert.deepEqual(bodies().slice(before), [...Array.from({ length: 8 }, (_, i) => `gap ${i + 5}`), 'after the gap']);
  const warn = d!.logs.find((l) => /said in #talk between .* not relayed/.test(l));
  assert.ok(warn, `no warning of the gap in the log:\n${d!.logs.slice(-20).join('\n')}`);
  const st = await cli(['status', '-c', w.config]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /said in #talk between \S+ UTC and \S+ UTC were not relayed/);
  assert.match(st.stdout, /history\.maxLines/);
});

test('the news group (nntplib) and the mailing list have every line once, in order, in their digests', async () => {
  const lineOf = (l: string) => /^\d\d:\d\d (?:<[^>]+>|\* \S+) (.*)$/.exec(l)?.[1];
  const lines = (texts: string[]) =>
    texts
      .flatMap((t) => t.split(/\r?\n/))
      .map(lineOf)
      .filter((l) => l !== undefined);
  const places: [string, () => Promise<string[]>][] = [
    ['peerpost.talk', async () => lines((await news.articles()).filter((a) => a.kind === 'digest').map((a) => a.text))],
    [`${MEMBER} (talk@lists.test.example)`, async () => lines((await mail.inbox(MEMBER)).map((x) => x.text))],
  ];
  const all = bodies();
  const last = all[all.length - 1]!;
  for (const [name, digested] of places) {
    for (let i = 0; !(await digested()).includes(last); i++) {
      if (i > 100) assert.fail(`the last line (${last}) is in no digest at ${name} after 20 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(await digested(), all, `${name}: every line once, in order`);
  }
});
