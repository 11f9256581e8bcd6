/**
 * The parts of issue 16 that wait for the calendar, end to end: the daemon restarted on the next day (libfaketime,
 * LD_PRELOAD, moves the daemon's clock; nothing in peerpost knows), members writing `set …` to LIST-request@ with
 * Python's smtplib, aiosmtpd (test/peers/smtp_maildir.py) as the smarthost.
 * - A digest member gets no single copy during the day, then at the list's hour (06:00 UTC) one digest holding
 *   the day's posts.
 * - `set nomail until TOMORROW`: nothing while paused; from that day each post again, and the settings say so.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cli, startDaemon, sleep } from '../helpers/daemon.js';
import { mailingLists, header } from './mail-helpers.js';
import { requirePeer } from '../peers/require.js';

const D = 'lists.test.example';
const LIST = `commons@${D}`;
const REQUEST = `commons-request@${D}`;
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

const lists = mailingLists({ waitMs: 20_000 });
const { mailTo, waitMail, send } = lists;
const isPost = (m: string, id: string) => header(m, 'Message-ID')[0] === `<${id}>`;
const isDigest = (m: string) => /^commons Digest, Vol \d+, Issue \d+$/.test(header(m, 'Subject')[0] ?? '');

const day = (t: number) => new Date(t).toISOString().slice(0, 10);
const TOMORROW = day(Date.now() + 86_400_000);

describe('members over the calendar: the daily digest, nomail until a day', () => {
  before(async () => {
    requirePeer('faketime');
    assert.ok(existsSync(LIBFAKETIME), `${LIBFAKETIME} is missing although faketime is installed`);
    await lists.start(
      ({ port, sinkPort }) => `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 1000 }
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
bridges:
  commons:
    endpoints:
      - { endpoint: mail.test/commons, policy: open, owners: [owner@example.org], digest: { hour: 6 } }
`,
    );
    await lists.subscribe('commons', ['each@example.org', 'dig@example.org', 'pause@example.org']);
  });
  after(() => lists.stop());

  test("today: the digest member gets no single copy, the paused one nothing; tomorrow at 06:00 UTC one digest of the day's posts, and the paused member each post again", async () => {
    await send('dig@example.org', REQUEST, 'set digest');
    await send('pause@example.org', REQUEST, `set nomail until ${TOMORROW}`);
    await waitMail('dig@example.org', (m) => /set digest: done/.test(m), 'the answer to set digest');
    assert.match(
      await waitMail('pause@example.org', (m) => /your settings/.test(m), 'the answer to set nomail'),
      new RegExp(`no mail from the list until ${TOMORROW}`),
    );

    const ids = [
      await send('each@example.org', LIST, 'Morning', 'First.'),
      await send('each@example.org', LIST, 'Noon', 'Second.'),
    ];
    for (const id of ids) await waitMail('each@example.org', (m) => isPost(m, id), `post ${id}`);
    await sleep(1500);
    assert.deepEqual(
      mailTo('dig@example.org').filter((m) => isDigest(m) || ids.some((id) => isPost(m, id))),
      [],
    );
    assert.deepEqual(
      mailTo('pause@example.org').filter((m) => ids.some((id) => isPost(m, id))),
      [],
    );

    // The next day, half past six UTC: the daemon starts again on that day.
    await lists.daemon.stop();
    lists.daemon = await startDaemon(lists.w.config, [], {
      env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: `@${TOMORROW} 06:30:00`, TZ: 'UTC', FAKETIME_DONT_RESET: '1' },
    });
    const digest = await waitMail('dig@example.org', isDigest, "the day's digest");
    assert.equal(header(digest, 'Subject')[0], 'commons Digest, Vol 1, Issue 1');
    assert.match(digest, /Morning[\s\S]*Noon/);
    await sleep(1500);
    assert.equal(mailTo('dig@example.org').filter(isDigest).length, 1, 'one digest');
    assert.equal(mailTo('dig@example.org').filter((m) => ids.some((id) => isPost(m, id))).length, 0);

    const next = await send('each@example.org', LIST, 'Next day', 'Third.');
    await waitMail('pause@example.org', (m) => isPost(m, next), 'the first post after the pause');
    const l = await cli(['subscribers', 'commons', 'show', 'pause@example.org', '--json', '-c', lists.w.config], {
      env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: `@${TOMORROW} 06:45:00`, TZ: 'UTC' },
    });
    assert.equal(l.code, 0, l.stderr);
    assert.equal((JSON.parse(l.stdout) as { settings: { mode: string } }).settings.mode, 'each');
  });
});
