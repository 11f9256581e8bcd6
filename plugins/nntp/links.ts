/** The web plugin's links, as the articles of this plugin show them (`web.links`, when a web account runs). */
import type { PluginContext } from '../../src/plugin.js';

/** Where attachment n of a post can be downloaded: the web's link to the kept file, or undefined. */
export function webFileUrl(ctx: Pick<PluginContext, 'service' | 'log'>, postId: string, n: number): string | undefined {
  try {
    return ctx.service('web.links')?.().attachment(postId, n);
  } catch (err) {
    ctx.log.debug({ err }, 'web.links failed; the article names its attachments without links');
    return undefined;
  }
}
