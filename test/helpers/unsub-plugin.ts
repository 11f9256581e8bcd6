/**
 * Test plugin (protocol "unsub") standing in for the mail plugin where the web
 * meets it: it provides `mail.unsubscribe` (info() and the async unsubscribe())
 * for the token "good-token", typed by the same contract as the real
 * mail plugin (plugins/mail/services.ts: a refusal is { ok: false, … }), and on
 * every delivery writes the links the `web.links` service gives (one JSON line
 * per post to `file`). test/integration/mail-web.test.ts runs the real two.
 */
import { appendFileSync } from 'node:fs';
import { definePlugin, z, delivered } from '../../src/plugin.js';

const schema = z.strictObject({ file: z.string() });
type Config = z.infer<typeof schema>;

export default definePlugin<Config>({
  protocol: 'unsub',
  style: 'article',
  account: schema,
  provides: ['mail.unsubscribe'],
  uses: [{ service: 'web.links', optional: true, without: 'no links are written' }],
  start(ctx) {
    const who = { list: 'commons', listAddress: 'commons@lists.test.example', address: 'carol@example.org' };
    const bad = { ok: false, code: 'invalid', reason: 'the unsubscribe link is not valid (a test)' } as const;
    ctx.provide('mail.unsubscribe', {
      info: (token) =>
        token === 'good-token' ? { ok: true, account: ctx.account, ...who, description: '', subscribed: true } : bad,
      async unsubscribe(token) {
        if (token !== 'good-token') return bad;
        appendFileSync(ctx.config.file, JSON.stringify({ unsubscribed: token }) + '\n');
        return { ok: true, ...who, unsubscribed: true };
      },
    });
    ctx.setState('connected');
    return {
      async deliver(post, to) {
        const links = ctx.service('web.links')?.();
        appendFileSync(
          ctx.config.file,
          JSON.stringify({
            id: post.id,
            archive: links?.archive(to.bridge) ?? null,
            other: links?.archive('no-such-bridge') ?? null,
            post: links?.post(post.id) ?? null,
            unsubscribe: links?.unsubscribe('a/b c') ?? null,
          }) + '\n',
        );
        return delivered();
      },
    };
  },
});
