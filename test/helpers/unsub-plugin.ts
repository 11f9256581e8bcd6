/**
 * Test plugin (protocol "unsub") standing in for the mail plugin where the web
 * meets it: it provides `list.unsubscribe` (async) and `list.unsubscribeInfo`
 * (sync) for the token "good-token", and on every delivery writes the links
 * the `web.links` service gives (one JSON line per post to `file`).
 */
import { appendFileSync } from 'node:fs';
import { definePlugin, z, delivered } from '../../src/plugin.js';

const schema = z.strictObject({ file: z.string() });
type Config = z.infer<typeof schema>;
type Links = {
  archive(bridge: string): string | undefined;
  post(id: string): string;
  unsubscribe(token: string): string;
};

export default definePlugin<Config>({
  protocol: 'unsub',
  style: 'article',
  account: schema,
  start(ctx) {
    const who = { list: 'commons@lists.test.example', address: 'carol@example.org' };
    ctx.provide('list.unsubscribe', async (token: string) => {
      if (token !== 'good-token') return undefined;
      appendFileSync(ctx.config.file, JSON.stringify({ unsubscribed: token }) + '\n');
      return who;
    });
    ctx.provide('list.unsubscribeInfo', (token: string) => (token === 'good-token' ? who : undefined));
    ctx.setState('connected');
    return {
      async deliver(post, to) {
        const links = ctx.service<() => Links>('web.links')?.();
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
