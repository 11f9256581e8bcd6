/**
 * What the mail plugin offers other plugins (the `Services` contract of src/plugin.ts). The web plugin serves
 * the one-click unsubscribe link (RFC 8058) of every list mail with `mail.unsubscribe` (info() for the GET page,
 * unsubscribe() for the POST), and offers the files of mail posts for download with `mail.attachments`.
 * Both sides compile against these types: a caller cannot miss a refusal.
 */
/** Why a link did nothing. `code` for the caller's reply (HTTP status), `reason` for people. */
export interface UnsubscribeRefusal {
  ok: false;
  /** invalid: a malformed, altered or foreign link; gone: its list is not served any more; unavailable: try later. */
  code: 'invalid' | 'gone' | 'unavailable';
  /** "the unsubscribe link is not valid (it was altered, or made by another server)" */
  reason: string;
}

/** What a good link is about (the GET page); changes nothing. */
export interface UnsubscribeInfo {
  ok: true;
  account: string;
  list: string;
  /** The subscriber the link was made for. */
  address: string;
  /** "commons@lists.example.org" */
  listAddress: string;
  description: string;
  /** False when the address is no longer subscribed (the link was used already). */
  subscribed: boolean;
}

/** What a click did (the POST). */
export interface Unsubscribed {
  ok: true;
  list: string;
  address: string;
  listAddress: string;
  /** False when the address was not subscribed (any more): nothing changed, and that is fine. */
  unsubscribed: boolean;
}

/** A file of a mail post that the list side still keeps (`keepAttachments`). */
export interface KeptAttachment {
  /** Its index in the post's `attachments`. */
  n: number;
  filename: string;
  contentType: string;
  /** Bytes. */
  size: number;
}

/** The files of mail posts, as kept by the mail plugin (plugins/mail/attachments.ts). */
export interface AttachmentFiles {
  /** The files of a post that are kept now (in order); none for a post from elsewhere, or past keepAttachments. */
  kept(postId: string): KeptAttachment[];
  /** One kept file with its content, or undefined. */
  file(postId: string, n: number): (KeptAttachment & { content: Buffer }) | undefined;
}

/** The one-click unsubscribe links of list mail (the token is the last part of the link). */
export interface OneClickUnsubscribe {
  /** What a link is about, for the page that asks before the POST; changes nothing. */
  info(token: string): UnsubscribeInfo | UnsubscribeRefusal;
  /** The RFC 8058 POST: unsubscribes at once (no confirmation: the signed token is the proof). */
  unsubscribe(token: string): Promise<Unsubscribed | UnsubscribeRefusal>;
}

declare module '../../src/plugin.js' {
  interface Services {
    /** One-click unsubscribe (RFC 8058), for every mail account of the node. */
    'mail.unsubscribe': OneClickUnsubscribe;
    /** The kept files of mail posts. */
    'mail.attachments': AttachmentFiles;
  }
}
