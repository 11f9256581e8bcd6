/**
 * Several peerpost processes on one PostgreSQL database (issue 17, src/runtime/leases.ts), as an operator runs them:
 * two `peerpost start` with the same bridges on one database (node.failover 3s), an IRC account (a real ngircd)
 * bridged with the built-in news server, a mailing list (its subscribers' mail goes to aiosmtpd, the smarthost) and
 * a sink. Posts come from IRC (a person in the channel), from a newsreader (nntplib, to either process's news
 * server), from mail (swaks, to either process's SMTP listener) and from `peerpost post`; the process holding the IRC
 * account is
 * killed with kill -9 three times, and started again after each kill so that two always run. Each time the other
 * takes the account over (it holds the lease, its bot is back in the channel); in the end every accepted post has
 * reached every place (the channel, the group, the sink, each subscriber's mailbox: IRC lines reach the list in the
 * bridge's digest, closed after a quiet the test does not wait for), and nothing is there twice except what the docs
 * allow at a kill: the IRC lines in flight (flood.window posts, plugins/irc/README.md) and a sink or list delivery
 * written just before the kill and not yet recorded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { startPostgres, openPg, type PgPeer } from '../helpers/pg.js';
import type { PgDatabase } from '../../src/store/pg/database.js';
import { nntplib } from './nntp-helpers.js';
import { ensureNgircd, freePort, startIrcd, stopIrcd, User, type Ircd } from './irc-helpers.js';
import { ensureSwaks, swaks, header, messagesTo } from './mail-helpers.js';
import { ensureAiosmtpd, startMaildirSink, type MaildirSink } from './mail-send-helpers.js';
import { requirePeer } from '../peers/require.js';

const CHAN = '#commons';
const BOT = 'ppbot';
/** Rounds of load (each: an IRC line, a news article, a `peerpost post`); PP_FAILOVER_ROUNDS scales it. */
const ROUNDS = Number(process.env.PP_FAILOVER_ROUNDS ?? 30);
const KILLS = 3;
const D = 'lists.failover.example';
const SUBSCRIBERS = ['ann@example.org', 'ben@example.net'];

let pg: PgPeer;
let ircd: Ircd | undefined;
let ircDir: string;
let smarthost: MaildirSink;
before(async () => {
  requirePeer('python3');
  ensureNgircd();
  ensureSwaks();
  ensureAiosmtpd();
  smarthost = await startMaildirSink();
  pg = await startPostgres('lease');
  ircDir = mkdtempSync(join(tmpdir(), 'pp-ircd-'));
  ircd = startIrcd(await freePort(), ircDir, '0');
});
after(async () => {
  await smarthost?.stop();
  stopIrcd(ircd);
  rmSync(ircDir, { recursive: true, force: true });
  pg?.destroy();
});

interface Proc {
  w: World;
  nntp: number;
  smtp: number;
  d?: Running;
}

function configure(w: World, nntp: number, smtp: number, sink: string): void {
  w.writeConfig(`  database: ${pg.url}
  failover: 3s
accounts:
  irc.net:
    host: 127.0.0.1
    port: ${ircd!.port}
    tls: false
    nick: ${BOT}
    reconnect: { first: 200ms, max: 1s }
    flood: { burst: 20, interval: 20ms }
  nntp.local: { listen: 127.0.0.1:${nntp}, posting: { allow: loopback } }
  mail.m:
    domain: ${D}
    listen: 127.0.0.1:${smtp}
    smtp: { host: 127.0.0.1, port: ${smarthost.port}, fromRewrite: never }
  sink.s: { file: ${sink} }
bridges:
  commons:
    endpoints:
      - irc.net/${CHAN}
      - { endpoint: nntp.local/peerpost.commons, shape: stream }
      - { endpoint: mail.m/commons, policy: open }
      - sink.s/c
`);
}

const holderPid = (db: PgDatabase): number | undefined => {
  const r = db.query(`SELECT holder FROM pp_leases WHERE name = 'account:irc.net' AND expires > now()`) as {
    holder: string | null;
  }[];
  const h = r[0]?.holder;
  return h ? Number(h.split(':')[1]) : undefined;
};

const article = (tok: string) =>
  `From: Reader <reader@example.org>\r\nNewsgroups: peerpost.commons\r\nSubject: ${tok}\r\nMessage-ID: <${tok}@failover.example>\r\n\r\nArticle ${tok}.\r\n`;

test('two processes on one database: kill -9 of the IRC holder three times, each time the other takes over; every accepted post reaches every place', async (t) => {
  const sinkWorld = world();
  t.after(() => sinkWorld.cleanup());
  const sink = sinkWorld.sink('s');
  const procs: Proc[] = [];
  for (let i = 0; i < 2; i++) {
    const w = world();
    t.after(() => w.cleanup());
    const [nntp, smtp] = [await freePort(), await freePort()];
    configure(w, nntp, smtp, sink);
    procs.push({ w, nntp, smtp });
  }
  t.after(async () => {
    for (const p of procs) await p.d?.stop('SIGKILL');
  });
  const db = openPg(pg);
  t.after(() => db.close());

  const watcher = await new User('watcher').connect(ircd!.port, CHAN);
  const talker = await new User('talker').connect(ircd!.port, CHAN);
  t.after(() => {
    watcher.close();
    talker.close();
  });

  procs[0]!.d = await startDaemon(procs[0]!.w.config);
  await watcher.waitFor((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l), 'the bot joins');
  const sub = await cli(['subscribers', 'commons', 'add', ...SUBSCRIBERS, '-c', procs[0]!.w.config]);
  assert.equal(sub.code, 0, sub.stderr);
  procs[1]!.d = await startDaemon(procs[1]!.w.config);
  const first = await until(() => holderPid(db), 'a holder of the IRC account');
  assert.equal(first, procs[0]!.d.proc.pid, 'the first process started holds the IRC account');

  // The status of either process shows both processes and who holds what.
  const st = await cli(['status', '-c', procs[1]!.w.config]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /processes on the database \(2\)/, st.stdout);
  assert.match(
    st.stdout,
    new RegExp(`pid ${procs[0]!.d.proc.pid}:[^\\n]*\\n(    holds [^\\n]*\\n)*    holds account:irc\\.net since`),
    st.stdout,
  );
  assert.match(st.stdout, new RegExp(`pid ${procs[1]!.d.proc.pid} \\(this one\\)`), st.stdout);

  const accepted = new Set<string>(); // ids acknowledged to their senders (NNTP 240, SMTP 250, `peerpost post` exit 0)
  const ircSaid: string[] = []; // tokens said in the channel by the talker
  const takeovers: { ms: number; from: number; to: number }[] = [];
  const killAt = new Set(Array.from({ length: KILLS }, (_, k) => Math.floor(((k + 1) * ROUNDS) / (KILLS + 1))));
  const live = () => procs.filter((p) => p.d && p.d.proc.exitCode === null && p.d.proc.signalCode === null);
  let restart: Promise<void> = Promise.resolve();

  for (let i = 0; i < ROUNDS; i++) {
    if (killAt.has(i)) {
      await restart;
      const pid = await until(() => holderPid(db), 'a holder of the IRC account');
      const victim = procs.find((p) => p.d?.proc.pid === pid)!;
      assert.ok(victim, `the holder ${pid} is one of the two processes`);
      const killed = Date.now();
      victim.d!.proc.kill('SIGKILL');
      await victim.d!.exited;
      const other = procs.find((p) => p !== victim)!;
      const joinsBefore = watcher.lines.filter((l) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l)).length;
      const takeover = until(
        () => {
          const h = holderPid(db);
          return h !== undefined && h !== pid && h;
        },
        'another process takes the IRC account over',
        30_000,
      ).then(async (to) => {
        assert.equal(to, other.d!.proc.pid, 'the other process took the IRC account over');
        await watcher.waitFor(
          (() => {
            let n = 0;
            return (l: string) => l.startsWith(`:${BOT}!`) && / JOIN /.test(l) && ++n > joinsBefore;
          })(),
          'the bot back in the channel',
          30_000,
        );
        takeovers.push({ ms: Date.now() - killed, from: pid, to });
      });
      // Started again once the other took over (as a supervisor would, a moment later; at once, it would take its
      // own leases back, being on the same data directory): it runs beside the other and holds nothing.
      restart = takeover.then(() =>
        startDaemon(victim.w.config).then((d) => {
          victim.d = d;
        }),
      );
    }
    const tok = `tok${i}x`;
    // IRC: a person says a line (accepted when a process's bot is in the channel to hear it: checked at the end).
    talker.send(`PRIVMSG ${CHAN} :irc-${tok}`);
    ircSaid.push(`irc-${tok}`);
    // News: to a process that runs.
    const alive = live();
    const via = alive[i % alive.length]!;
    const [r] = await nntplib(via.nntp, [['post', article(`news-${tok}`)]]);
    if (r?.ok) accepted.add(`news-${tok}@failover.example`);
    // Mail: to the list, through the other running process's SMTP listener.
    const byMail = alive[(i + 1) % alive.length]!;
    const m = await swaks(byMail.smtp, [
      '--from',
      'writer@example.com',
      '--to',
      `commons@${D}`,
      '--header',
      `Subject: mail-${tok}`,
      '--header',
      `Message-Id: <mail-${tok}@failover.example>`,
      '--body',
      `Mail ${tok}.`,
    ]);
    if (m.replies.some((x) => /^250 .*posted to commons/.test(x))) accepted.add(`mail-${tok}@failover.example`);
    else
      assert.ok(
        m.replies.some((x) => /^4\d\d /.test(x)),
        `a refusal of a mail is temporary: ${m.out}`,
      );
    // `peerpost post` (to a running daemon, or straight into the database when its daemon is down).
    const c = await cli([
      'post',
      '-c',
      procs[i % 2]!.w.config,
      '-b',
      'commons',
      '--from',
      'carol',
      '--subject',
      `cli-${tok}`,
      `cli-${tok}`,
    ]);
    if (c.code === 0) accepted.add(/<([^>]+)>/.exec(c.stdout)![1]!);
    else assert.equal(c.code, 6, `peerpost post failed for good: ${c.stderr}`);
    await sleep(150);
  }
  await restart;
  await until(() => takeovers.length === KILLS, `${KILLS} takeovers`, 60_000);
  t.diagnostic(
    `takeovers (kill -9 → the other's bot back in the channel): ${takeovers.map((x) => `${x.ms} ms`).join(', ')}`,
  );
  for (const x of takeovers) assert.notEqual(x.from, x.to);

  // Everything delivered: no row pending, none dead.
  await until(
    () => Number((db.query(`SELECT count(*)::int AS n FROM outbox`)[0] as { n: number }).n) === 0,
    'the outbox empty',
    60_000,
  );
  const posts = db.query(`SELECT id, data FROM posts WHERE bridge = 'commons'`) as { id: string; data: string }[];
  const stored = new Map(
    posts.map((p) => [
      p.id,
      JSON.parse(p.data) as { origin: { account: string }; kind: string; subject: string | null; body: string },
    ]),
  );
  for (const id of accepted) assert.ok(stored.has(id), `accepted post ${id} is stored`);
  const ircPosts = [...stored.values()].filter((p) => p.origin.account === 'irc.net');
  const fromIrc = ircPosts.filter((p) => p.kind !== 'digest').map((p) => p.body);
  assert.ok(fromIrc.length >= ROUNDS - 2 * KILLS * 3, `most IRC lines were heard (${fromIrc.length} of ${ROUNDS})`);
  for (const b of fromIrc) assert.ok(ircSaid.includes(b), `an IRC line stored as said: ${b}`);
  // A long run closes the bridge's chat digest (every 100 lines): each line in it was said, and heard as a line.
  for (const d of ircPosts.filter((p) => p.kind === 'digest'))
    for (const [, tok] of d.body.matchAll(/<talker> (irc-tok\d+x)$/gm)) {
      assert.ok(ircSaid.includes(tok!), `a digest line as said: ${tok}`);
      assert.ok(fromIrc.includes(tok!), `a digest line also stored as a line: ${tok}`);
    }

  // The sink: every post, once (but a delivery written just before a kill and not recorded: at most one per kill).
  const atSink = sinkWorld.delivered('s').map((d) => d.id);
  const sinkCount = new Map<string, number>();
  for (const id of atSink) sinkCount.set(id, (sinkCount.get(id) ?? 0) + 1);
  // The sink is a chat place: a digest is not for it (src/ingest/router.ts), every other post is.
  for (const [id, post] of stored) if (post.kind !== 'digest') assert.ok(sinkCount.has(id), `${id} reached the sink`);
  const sinkTwice = [...sinkCount].filter(([, n]) => n > 1);
  assert.ok(sinkTwice.length <= KILLS, `at most one sink delivery per kill is repeated: ${JSON.stringify(sinkTwice)}`);

  // The newsgroup (read from either process's news server: one archive): every post once.
  const p = live()[0]!;
  const [, over] = await nntplib(p.nntp, [
    ['group', 'peerpost.commons'],
    ['over', '1-'],
  ]);
  const inGroup = (over!.value as [number, Record<string, string>][]).map(([, o]) =>
    o['message-id']!.replace(/^<|>$/g, ''),
  );
  assert.equal(new Set(inGroup).size, inGroup.length, 'no article twice in the group');
  // Chat lines reach this group one by one; the bridge's digest of them is for the list only.
  for (const [id, post] of stored)
    if (post.kind !== 'digest') assert.ok(inGroup.includes(id), `${id} is in the newsgroup`);

  // The channel: every post not from IRC, said by the bot; twice only for posts in flight at a kill.
  await sleep(500);
  const botSaid = watcher.said(BOT, CHAN).map((l) => watcher.text(l));
  const seen = new Map<string, number>();
  for (const line of botSaid) {
    // An announced post is a header line `[commons] author: Subject` and its first lines: counted by the header.
    const m = /: ((?:news|cli|mail)-tok\d+x)$/.exec(line);
    if (m) seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
  }
  for (const post of stored.values()) {
    if (post.origin.account === 'irc.net') continue;
    const tok = /(news|cli|mail)-tok\d+x/.exec(post.subject ?? '')![0];
    assert.ok(seen.has(tok), `${tok} was said in the channel`);
  }
  const twice = [...seen].filter(([, n]) => n > 1);

  // The list: each subscriber got every post not from IRC by mail, once (but a delivery to the smarthost written
  // just before a kill and not recorded: at most one per kill).
  // IRC lines reach the list in the bridge's digest: a long run closes one (every 100 lines), which is checked too.
  const listPosts = [...stored]
    .filter(([, p]) => p.origin.account !== 'irc.net' || p.kind === 'digest')
    .map(([id]) => id);
  assert.ok(
    listPosts.some((id) => id.startsWith('mail-')),
    'some posts came by mail',
  );
  let mailTwice = 0;
  for (const addr of SUBSCRIBERS) {
    await until(
      () => listPosts.every((id) => messagesTo(smarthost, addr).some((m) => header(m, 'Message-ID')[0] === `<${id}>`)),
      `every post reaches ${addr}`,
      30_000,
    ).catch(() => undefined);
    const got = new Map<string, number>();
    for (const m of messagesTo(smarthost, addr)) {
      const id = (header(m, 'Message-ID')[0] ?? '').replace(/^<|>$/g, '');
      got.set(id, (got.get(id) ?? 0) + 1);
    }
    for (const id of listPosts) assert.ok(got.has(id), `${id} reached ${addr}`);
    for (const id of got.keys()) assert.ok(stored.has(id), `${addr} got only posts that are stored: ${id}`);
    const again = [...got].filter(([, n]) => n > 1);
    mailTwice = Math.max(mailTwice, again.length);
    assert.ok(again.length <= KILLS, `at most one list delivery per kill is repeated: ${JSON.stringify(again)}`);
  }
  // flood.window is 8 (plugins/irc/README.md): at most that many posts in flight per kill are said again.
  assert.ok(
    twice.length <= KILLS * 8,
    `IRC lines said twice only for posts in flight at a kill: ${JSON.stringify(twice)}`,
  );
  t.diagnostic(
    `${stored.size} posts (${fromIrc.length} from IRC, ${accepted.size} by news, mail and CLI); repeated: ${twice.length} in the channel, ${sinkTwice.length} at the sink, ${mailTwice} in a subscriber's mailbox`,
  );
});
