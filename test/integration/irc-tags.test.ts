/**
 * IRCv3 message-tags and the loop guard. ngircd offers no message-tags (its
 * CAP LS is "multi-prefix" only), so this runs the daemon against a small fake
 * IRC server on 127.0.0.1 that offers `message-tags`: every line of a relayed
 * post carries `+peerpost/id`, and a line tagged by another relay is not relayed
 * again and stops the same post from being said a second time.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { FakeIrcd } from './irc-helpers.js';

describe('message-tags: the post id travels with every line', () => {
  const ircd = new FakeIrcd({ caps: 'message-tags server-time', names: (nick) => `${nick} other` });
  let w: World;
  let d: Running;
  const spool = () => join(w.dir, 'spool');
  const put = (name: string, post: object) => {
    writeFileSync(join(spool(), `${name}.tmp`), JSON.stringify(post));
    renameSync(join(spool(), `${name}.tmp`), join(spool(), `${name}.json`));
  };

  before(async () => {
    await ircd.start();
    w = world();
    mkdirSync(join(w.dir, 'spool'), { recursive: true });
    w.writeConfig(`
accounts:
  irc.f: { host: 127.0.0.1, port: ${ircd.port}, tls: false, nick: tagbot }
  sink.s: { file: ${w.sink('s')}, spool: ${join(w.dir, 'spool')} }
bridges:
  t:
    endpoints: [irc.f/#t, sink.s/x]
`);
    d = await startDaemon(w.config);
    await until(() => ircd.got.some((l) => /^JOIN #t/.test(l)), 'the bot joins #t', 15_000);
  });

  after(async () => {
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    ircd.close();
    w?.cleanup();
  });

  test('every line of a post carries @+peerpost/id=<its Message-ID>', async () => {
    const r = await cli(['post', '-c', w.config, '-b', 't', '--from', 'carol', 'hello tags']);
    assert.equal(r.code, 0, r.stderr);
    const line = await until(() => ircd.got.find((l) => / PRIVMSG #t :<carol> hello tags$/.test(l)), 'the line');
    const m = /^@\+peerpost\/id=(\S+) PRIVMSG #t :/.exec(line);
    assert.ok(m, line);
    await until(() => w.delivered('s').length >= 1, 'the sink');
    assert.equal(m[1], w.delivered('s')[0]!.id);
  });

  test('a tagged line from anyone is relayed again by nobody, and the post it carries is not said here a second time', async () => {
    ircd.send(
      '@+peerpost/id=abc-def@elsewhere.example;time=2026-11-27T06:00:00.000Z :other!u@h PRIVMSG #t :<zoe> from the other node',
    );
    ircd.send(':other!u@h PRIVMSG #t :an untagged human line');
    await until(() => w.delivered('s').some((x) => x.body === 'an untagged human line'), 'the human line');
    assert.ok(!w.delivered('s').some((x) => /from the other node/.test(x.body)), 'the tagged line is not a post');
    // The same post (same id) now arrives by another path: the channel already shows it.
    // (another text, so that only the id can tell)
    put('same', {
      id: 'abc-def@elsewhere.example',
      target: 'x',
      author: { name: 'zoe', via: 'sink' },
      body: 'the same post, shown otherwise',
    });
    await d.waitForLog(/not said in #t again: already said here by other \(same post id\)/, 5000);
    await sleep(300);
    assert.ok(!ircd.got.some((l) => /the same post, shown otherwise/.test(l)));
  });
});
