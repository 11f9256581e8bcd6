/** The types MAIL-IN and MAIL-OUT share (see index.ts). */

export interface ListInfo {
  /** "commons" (the endpoint target) */
  name: string;
  /** "commons@lists.example.org" */
  address: string;
  bridge: string;
  description: string;
  /** "[commons]" or false; not repeated on replies ("Re: [commons] x"). */
  subjectTag: string | false;
  owners: string[];
  attachments: 'pass' | 'strip';
  /** The most bytes of attachment files one list mail carries (pass); default: all that were kept. */
  maxAttachmentBytes?: number;
  /** The footer under each post (plugins/mail/templates.ts); none when absent. */
  footer?: import('./headers.js').Footer;
}

/** One subscriber to send to; the token (signed by the list side) only goes into the one-click unsubscribe URL. */
export interface Recipient {
  address: string;
  unsubscribeToken: string;
}

/** From the web plugin's service "web.links" when it runs. */
export interface Links {
  archive?: string;
  post?(id: string): string;
  unsubscribe?(token: string): string;
  /** The member's preferences page for a token of the mail plugin (`mail.preferences`), when the web serves the list's. */
  preferences?(token: string): string | undefined;
}

/** A permanent delivery failure: a 5xx at RCPT or DATA, or a parsed DSN. */
export interface BounceEvent {
  list: string;
  address: string;
  code: number;
  permanent: boolean;
  reason: string;
}

export interface BounceRecipient {
  address: string;
  /** "failed", "delayed", "delivered", "relayed", "expanded" */
  action: string;
  /** "5.1.1" */
  status: string;
  permanent: boolean;
  diagnostic?: string;
}
