/**
 * A list's own texts (issue 16): `templates: DIR` beside the config holds confirm.txt, welcome.txt, goodbye.txt and
 * footer.txt; a member who joins, posts and leaves by mail (Python's smtplib) receives those texts, with their
 * placeholders filled, at aiosmtpd (test/peers/smtp_maildir.py). A list without `templates` keeps the shipped
 * defaults. A template with an unknown placeholder stops the daemon's start with the file and line.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, cli } from '../helpers/daemon.js';
import { mailingLists, header } from './mail-helpers.js';

const D = 'lists.test.example';
const ALICE = 'alice@example.org';

const lists = mailingLists();
const { waitMail, send } = lists;
const subject = (m: string) => header(m, 'Subject')[0] ?? '';
const bodyOf = (m: string) => m.slice(m.search(/\r?\n\r?\n/)).trim();

/** Answer the confirmation request whose subject matches, by replying to its Reply-To; the request. */
async function confirm(addr: string, pred: (m: string) => boolean, what: string): Promise<string> {
  const req = await waitMail(addr, pred, what);
  const replyTo = header(req, 'Reply-To')[0]!.replace(/^<|>$/g, '');
  await send(addr, replyTo, `Re: ${subject(req)}`, '> quoted');
  return req;
}

describe("a list's own texts from files beside the config", () => {
  before(async () => {
    await lists.start(({ w, port, sinkPort }) => {
      const texts = join(w.dir, 'commons-texts');
      mkdirSync(texts);
      writeFileSync(
        join(texts, 'confirm.txt'),
        'Subject: Please confirm ({{list}})\nYou asked to {{action}} {{post}}; write to {{confirm}}.\nValid for {{expires}}.\n',
      );
      writeFileSync(
        join(texts, 'welcome.txt'),
        'Subject: Hello from {{list}}\nWelcome aboard, {{address}}! Questions go to {{owner}}.\n',
      );
      writeFileSync(join(texts, 'goodbye.txt'), 'Subject: Farewell from {{list}}\nCome back any time: {{join}}\n');
      writeFileSync(join(texts, 'footer.txt'), '-- \nThis is {{list}} ({{description}}). Leave: {{unsubscribe}}\n');
      return `
accounts:
  mail.test:
    domain: ${D}
    listen: 127.0.0.1:${port}
    limits: { messages: 1000 }
    subscription: { window: 0s }
    smtp: { host: 127.0.0.1, port: ${sinkPort}, fromRewrite: never }
bridges:
  commons:
    description: The commons
    endpoints:
      - { endpoint: mail.test/commons, policy: open, owners: [owner@example.org], templates: commons-texts }
  plain:
    endpoints:
      - { endpoint: mail.test/plain, policy: open, owners: [owner@example.org] }
`;
    });
  });
  after(() => lists.stop());

  test('join, post and leave by mail: the confirmation, welcome, footer and goodbye are the files, filled in', async () => {
    await send(ALICE, `commons-join@${D}`, 'subscribe');
    const req = await confirm(ALICE, (m) => /^Please confirm/.test(subject(m)), 'the confirmation request');
    assert.equal(subject(req), 'Please confirm (commons)');
    assert.match(
      bodyOf(req),
      new RegExp(
        `You asked to subscribe alice@example\\.org to commons@${D.replace(/\./g, '\\.')}; write to commons-confirm\\+[0-9a-f]+@`,
      ),
    );
    assert.match(bodyOf(req), /Valid for \d+ (days|hours)\./);
    assert.doesNotMatch(req, /Someone \(hopefully you\)/, 'not the default text');

    const welcome = await waitMail(ALICE, (m) => subject(m) === 'Hello from commons', 'the welcome');
    assert.match(bodyOf(welcome), /Welcome aboard, alice@example\.org! Questions go to commons-owner@/);

    await send(ALICE, `commons@${D}`, 'A post', 'Hello all.');
    const post = await waitMail(ALICE, (m) => /A post/.test(subject(m)), 'the post');
    assert.match(bodyOf(post), /This is commons \(The commons\)\. Leave: send any mail to commons-leave@/);
    assert.doesNotMatch(post, /mailing list -- to post, write to/, 'not the default footer');

    await send(ALICE, `commons-leave@${D}`, 'unsubscribe');
    const leave = await confirm(
      ALICE,
      (m) => /^Please confirm/.test(subject(m)) && /You asked to unsubscribe/.test(m),
      'the confirmation of leaving',
    );
    assert.match(bodyOf(leave), /unsubscribe alice@example\.org from commons@/);
    const bye = await waitMail(ALICE, (m) => subject(m) === 'Farewell from commons', 'the goodbye');
    assert.match(bodyOf(bye), new RegExp(`Come back any time: commons-join@${D.replace(/\./g, '\\.')}`));
  });

  test('a list without templates sends the shipped defaults', async () => {
    await send(ALICE, `plain-join@${D}`, 'subscribe');
    await confirm(ALICE, (m) => /^confirm [0-9a-f]{24}$/.test(subject(m)), 'the default confirmation request');
    const welcome = await waitMail(ALICE, (m) => subject(m) === 'Welcome to plain', 'the default welcome');
    assert.match(bodyOf(welcome), /To get a daily digest instead of each post, write "set digest" to plain-request@/);
  });

  test('an unknown placeholder in a template: peerpost check and the start both refuse it, naming the file and line', async () => {
    await lists.daemon.stop();
    writeFileSync(join(lists.w.dir, 'commons-texts', 'goodbye.txt'), 'Subject: Bye\nSee {{homepage}}\n');
    const checked = await cli(['check', '-c', lists.w.config]);
    assert.notEqual(checked.code, 0, checked.stdout);
    assert.match(checked.stderr + checked.stdout, /goodbye\.txt.*line 2: unknown placeholder \{\{homepage\}\}/);
    const d = await startDaemon(lists.w.config, [], { waitUp: false });
    const code = await d.exited;
    assert.notEqual(code, 0);
    assert.match(d.logs.join('\n'), /goodbye\.txt.*line 2: unknown placeholder \{\{homepage\}\}/);
  });
});
