/**
 * What the mail plugin offers other plugins (the `Services` contract of src/plugin.ts). The web plugin serves
 * the one-click unsubscribe link (RFC 8058) of every list mail with `mail.unsubscribe` (info() for the GET page,
 * unsubscribe() for the POST), and offers the files of mail posts for download with `mail.attachments`.
 * The preferences page of a member (the "change settings" link in every list mail's footer) is served by the
 * web plugin with `mail.preferences`: info() for the GET page, set() for the POST.
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

// ---- moderation (issue 16): held posts and bans, for the owner page of the web plugin (plugins/mail/moderate.ts) ----

/** What an owner or moderator may do with a held post. ban: discard it and ban its sender from the list. */
export type ModerationAction = 'approve' | 'reject' | 'discard' | 'ban';
export const MODERATION_ACTIONS: readonly ModerationAction[] = ['approve', 'reject', 'discard', 'ban'];
/** owner: everything (held posts, bans); moderator: decides held posts only. */
export type ModeratorRole = 'owner' | 'moderator';

/** A list as its owners see it. `list` names it for the other calls ("commons", or "mail.lists/commons" when two accounts have a list of that name). */
export interface ModeratedList {
  account: string;
  list: string;
  listAddress: string;
  description: string;
  owners: string[];
  moderators: string[];
  policy: 'members' | 'open' | 'moderated' | 'announce';
}

/** A post waiting for a decision. */
export interface HeldPostView {
  id: number;
  list: string;
  /** The sender's address (From, else the envelope sender), lower-case. */
  sender: string;
  subject: string;
  /** Why it was held: "x@example.org is not subscribed to commons". */
  reason: string;
  /** When it came (ms since the epoch). */
  received: number;
  messageId: string | null;
}

/** A held post with what a moderator reads before deciding. */
export interface HeldPostDetail extends HeldPostView {
  ok: true;
  /** The text as a member would read it (plain text, at most 64 KB). */
  text: string;
  /** Its files (names only: a held post's files are not offered for download). */
  attachments: { filename: string; contentType: string; size: number }[];
}

/** Why a moderation call did nothing. `code` for the caller's reply, `reason` for people. */
export interface ModerationRefusal {
  ok: false;
  /**
   * no-list: no such list; not-allowed: `by` is neither an owner nor (for held posts) a moderator of the list;
   * no-such-post: no held post with that id on that list; decided: it was decided already (reason says how, by whom);
   * bad-pattern: a ban pattern that cannot be read (reason says why); failed: it could not be done now (approve: the
   * store refused or deferred the post; it stays held); unavailable: the mailing lists are not running.
   */
  code: 'no-list' | 'not-allowed' | 'no-such-post' | 'decided' | 'bad-pattern' | 'failed' | 'unavailable';
  reason: string;
}

/** What a decision did. */
export interface ModerationDone {
  ok: true;
  list: string;
  id: number;
  action: ModerationAction;
  /** Who decided (lower-case address; "the command line" for `peerpost held`). */
  by: string;
  /** For people: "approved and posted <id@example.org>", "rejected; the sender is told", … */
  summary: string;
}

/** One ban. */
export interface BanView {
  /** As written: "spammer@example.org", "*@spam.example", "/^.*@(a|b)\\.example$/". */
  pattern: string;
  kind: 'address' | 'glob' | 'regex';
  /** list: this list only; account: every list of the mail account (`bans:` on the account). */
  scope: 'list' | 'account';
  /** config: from the config file (change it there); added: at run time (a `ban` decision, the CLI, the owner page). */
  source: 'config' | 'added';
  /** Who added it (source added). */
  by?: string;
  /** When (ms since the epoch, source added). */
  added?: number;
}

/** What ban() or unban() changed. */
export interface BanChange {
  ok: true;
  list: string;
  pattern: string;
  /** False when nothing changed (banned already; not banned). */
  changed: boolean;
}

/**
 * Held posts and bans of the mailing lists, for owners and moderators. Every call that changes something takes
 * `by`, the address of the owner or moderator acting (the web plugin: the address its magic link went to), and
 * checks it: moderators may decide held posts; owners may do everything. The same code decides for replies to
 * held notices and for `peerpost held`.
 */
export interface ListModeration {
  /** Every list of every mail account. */
  lists(): ModeratedList[];
  /** What this address is on the list, or undefined (neither owner nor moderator; or no such list). */
  role(list: string, address: string): ModeratorRole | undefined;
  /** The list's held posts, oldest first. */
  held(list: string): HeldPostView[] | ModerationRefusal;
  /** One held post with its text. */
  heldPost(list: string, id: number): Promise<HeldPostDetail | ModerationRefusal>;
  /** Decide a held post. reason: for reject (told to the sender). */
  decide(
    list: string,
    id: number,
    action: ModerationAction,
    opts: { by: string; reason?: string },
  ): Promise<ModerationDone | ModerationRefusal>;
  /** The bans that apply to the list: its own (config and added) and the account's. Owners only. */
  bans(list: string, by: string): BanView[] | ModerationRefusal;
  /** Ban an address or pattern from the list (stored; survives restarts). Owners only. */
  ban(list: string, pattern: string, by: string): BanChange | ModerationRefusal;
  /** Lift a ban added at run time (one from the config file is refused: change the file). Owners only. */
  unban(list: string, pattern: string, by: string): BanChange | ModerationRefusal;
  /** The ban that keeps this address off the list, if any (for the web's subscribe form: answer as always, send nothing). */
  banned(list: string, address: string): BanView | undefined;
}

declare module '../../src/plugin.js' {
  interface Services {
    /** Held posts and bans of every mail account's lists (the owner page). */
    'mail.moderation': ListModeration;
  }
}

/** The one-click unsubscribe links of list mail (the token is the last part of the link). */
export interface OneClickUnsubscribe {
  /** What a link is about, for the page that asks before the POST; changes nothing. */
  info(token: string): UnsubscribeInfo | UnsubscribeRefusal;
  /** The RFC 8058 POST: unsubscribes at once (no confirmation: the signed token is the proof). */
  unsubscribe(token: string): Promise<Unsubscribed | UnsubscribeRefusal>;
}

// ---- the lists on the web (/l/LIST and the owner page): `mail.lists` ----

/** One list as the public sees it (its page /l/LIST). */
export interface PublicList {
  /** The mail account that runs it ("mail.lists"). */
  account: string;
  /** The list's name, its endpoint target ("commons"). */
  list: string;
  bridge: string;
  description: string;
  /** "commons@lists.example.org": where members post. */
  address: string;
  /** "commons-join@…", "commons-leave@…", "commons-request@…", "commons-owner@…". */
  join: string;
  leave: string;
  request: string;
  owner: string;
  /** Who may post, in words: "members post by mail to commons@…; other posts wait for an owner". */
  posting: string;
}

/** Why a list request did nothing: `code` for the caller's reply (HTTP status), `reason` for people. */
export interface ListRefusal {
  ok: false;
  /** invalid: bad input (an address that is not one); gone: no such list (any more) or no such item; unavailable: try later. */
  code: 'invalid' | 'gone' | 'unavailable';
  reason: string;
}

/** A subscriber as its owners see it. */
export interface ListMember {
  address: string;
  name: string;
  /** ms since the epoch. */
  since: number;
  /** How they get the list, in the words of `set`: "each", "digest mime", "digest plain", "nomail", "nomail until 2027-01-10". */
  mode: string;
  /** False when delivery is disabled (it kept bouncing). */
  receiving: boolean;
  bounceScore: number;
  /** ms since the epoch, or null. */
  lastBounce: number | null;
}

/** A recent delivery problem of a list: a bounce of a subscriber (from a DSN or a 5xx of the smarthost). */
export interface ListProblem {
  /** ms since the epoch. */
  at: number;
  address: string;
  /** "5.1.1 user unknown", "bounced (VERP)". */
  reason: string;
  /** The subscriber's bounce score after it, and whether delivery to them is off now. */
  score: number;
  disabled: boolean;
}

export interface MailLists {
  /** Every list of every running mail account. */
  lists(): PublicList[];
  /**
   * Start a subscription for `address` as a mailed join request does (the same confirmation mail, token and
   * texts; a subscribed address gets the "subscribed already" notice instead; at most one robot mail per
   * address and list within subscription.window). Answers the same either way: nothing tells whether the
   * address is subscribed.
   */
  subscribe(account: string, list: string, address: string): Promise<{ ok: true } | ListRefusal>;
  /**
   * Mail `address` the owner page's one-time login link (robot mail of the list, from LIST-request@), when it
   * is an owner or moderator of the list; nothing otherwise (the caller answers the same either way).
   */
  sendLoginLink(account: string, list: string, address: string, link: string, validMs: number): Promise<void>;
  members(account: string, list: string): ListMember[];
  /** Subscribe without confirmation (the owner vouches), or re-enable delivery of a bounced subscriber. */
  addMember(account: string, list: string, address: string, by: string): { ok: true; text: string } | ListRefusal;
  removeMember(account: string, list: string, address: string, by: string): { ok: true; text: string } | ListRefusal;
  /**
   * Set a subscriber's delivery mode with the words of `peerpost subscribers LIST set ADDRESS …` ("each", "digest",
   * "digest plain", "nomail", "nomail until 2027-01-10"); the member is not told. `text` says what it did.
   */
  setMode(
    account: string,
    list: string,
    address: string,
    words: string,
    by: string,
  ): { ok: true; text: string } | ListRefusal;
  /** The list's recent bounces, newest first (at most `limit`, default 50). */
  problems(account: string, list: string, limit?: number): ListProblem[];
}

/** How a member gets the list's posts. */
export type DeliveryMode = 'each' | 'digest' | 'nomail';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['each', 'digest', 'nomail'];
/** mime: multipart/digest (RFC 2046 section 5.1.5), each post a message/rfc822 part; plain: RFC 1153 text. */
export type DigestFormat = 'mime' | 'plain';
export const DIGEST_FORMATS: readonly DigestFormat[] = ['mime', 'plain'];

/** One member's settings on one list (plugins/mail/members.ts). */
export interface MemberSettings {
  /** each (default): every post as it comes; digest: the list's digest; nomail: nothing (until nomailUntil). */
  mode: DeliveryMode;
  /** The digest's form when mode is digest (kept when the mode changes). Default mime. */
  digestFormat: DigestFormat;
  /** With mode nomail: the day ("2027-01-10", UTC) from which the member gets each post again; null: until changed. */
  nomailUntil: string | null;
  /** Whether the member gets a copy of their own posts. Default true. */
  ownPosts: boolean;
}

/** A change of settings: the keys given change, the others stay. mode nomail with nomailUntil sets the date. */
export type MemberSettingsChange = Partial<MemberSettings>;

/** Why a preferences link did nothing. */
export interface PreferencesRefusal {
  ok: false;
  /**
   * invalid: a malformed, altered or foreign link; gone: its list is not served any more; not-member: the address
   * is not subscribed (any more); bad-settings: the change asks for something impossible (reason says what);
   * unavailable: try later.
   */
  code: 'invalid' | 'gone' | 'not-member' | 'bad-settings' | 'unavailable';
  reason: string;
}

/** What a good preferences link is about (the GET page); changes nothing. */
export interface PreferencesInfo {
  ok: true;
  account: string;
  list: string;
  /** The member the link was made for. */
  address: string;
  listAddress: string;
  description: string;
  settings: MemberSettings;
  /** The list's digest hour (0–23, in digestZone), to say when digests come. */
  digestHour: number;
  /** The IANA time zone of the digest hour (`digest.timezone`, UTC by default). */
  digestZone: string;
  /** The member's one-click unsubscribe token (for a link to the `mail.unsubscribe` page). */
  unsubscribeToken: string;
}

/** What a POST did: the settings as they are now. */
export interface PreferencesSaved {
  ok: true;
  list: string;
  address: string;
  listAddress: string;
  settings: MemberSettings;
  /** False when the change changed nothing. */
  changed: boolean;
}

/** A member's preferences, reached by the signed link in the footer of the list mail they get. */
export interface MemberPreferences {
  /** What a link is about and the member's settings now; changes nothing. */
  info(token: string): PreferencesInfo | PreferencesRefusal;
  /** Change the member's settings (the signed token is the proof; no password). */
  set(token: string, change: MemberSettingsChange): Promise<PreferencesSaved | PreferencesRefusal>;
}

declare module '../../src/plugin.js' {
  interface Services {
    /** One-click unsubscribe (RFC 8058), for every mail account of the node. */
    'mail.unsubscribe': OneClickUnsubscribe;
    /** The kept files of mail posts. */
    'mail.attachments': AttachmentFiles;
    /** The lists for the web: their pages, subscribing from the web, the owner page's login mail, subscribers, bounces (held posts and bans: `mail.moderation`). */
    'mail.lists': MailLists;
    /** Members' settings by their signed preferences link (the footer's "change settings"). */
    'mail.preferences': MemberPreferences;
  }
}
