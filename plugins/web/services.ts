/**
 * What the web plugin offers other plugins (the `Services` contract of src/plugin.ts): links to its pages, for
 * the "read the rest" of an IRC line, the archive, unsubscribe and preferences links of list mail, and the download link of
 * a kept attachment in a news article.
 */

export interface WebLinks {
  /** The archive page of a bridge (by bridge name), or undefined when the web does not serve it. */
  archive(bridge: string): string | undefined;
  /** A post's permalink. */
  post(id: string): string;
  /** The RFC 8058 one-click unsubscribe URL for a token of the mail plugin. */
  unsubscribe(token: string): string;
  /**
   * A member's preferences page (/l/LIST/prefs?t=TOKEN) for a token of the mail plugin (`mail.preferences`), or
   * undefined when this web does not serve the list's bridge (the footer then says how to change them by mail).
   */
  preferences(bridge: string, list: string, token: string): string | undefined;
  /**
   * Where the web serves a post's attachment (index `n` in `post.attachments`) for download, or undefined
   * when the file is not kept (a post from elsewhere, past the mail plugin's keepAttachments) or not served.
   */
  attachment(postId: string, n: number): string | undefined;
}

declare module '../../src/plugin.js' {
  interface Services {
    /** The web's links as they are now (publicUrl, the bridges it serves): call it at use time. */
    'web.links': () => WebLinks;
  }
}
