/**
 * One reader's NNTP session (RFC 3977, AUTHINFO of RFC 4643): a command line
 * in, a complete response out. No sockets here (server.ts frames the lines),
 * so every command is testable as text.
 */
import type { ErrorCode, Post } from '../../src/plugin.js';
import {
  articleText,
  bodyText,
  headText,
  headerValue,
  overviewLine,
  OVERVIEW_FMT,
  renderArticle,
  type RenderedArticle,
} from './article.js';
import {
  dotStuff,
  nntpDate,
  oneLine,
  parseCommand,
  parseDateTime,
  parseRange,
  wildmat,
  headerWildmat,
} from './text.js';

/**
 * What became of an article a client sent (after POST's 340 or IHAVE's 335). The session answers it in the codes
 * of the command that asked for it (articleAnswer): the backend never writes the response line itself.
 */
export type Received =
  /** Kept: `id` when it goes to the bridge, `note` when it does not (a filter matched). */
  | { status: 'taken'; id?: string; note?: string }
  /** Refused for good (rejected) or for now (tempfail); `code` says why, `reason` is for the client's person. */
  | { status: 'rejected' | 'tempfail'; code: ErrorCode; reason: string };

/**
 * The response to an article: by the command that asked for it and what became of it, never by the text of another
 * answer. Taken: 240 (POST) or 235 (IHAVE). Refused for good: 441 or 437 (do not offer it again). Refused for now
 * (the store is full, peerpost is stopping): 403 or 436 (offer it again later).
 */
export function articleAnswer(by: 'post' | 'ihave', r: Received): string {
  const ihave = by === 'ihave';
  switch (r.status) {
    case 'taken':
      return `${ihave ? '235 article transferred OK' : '240 article received OK'}${r.id ? ` <${r.id}>` : ''}${r.note ? `, ${r.note}` : ''}`;
    case 'rejected':
      return `${ihave ? '437' : '441'} ${oneLine(r.reason)}`;
    case 'tempfail':
      return `${ihave ? '436' : '403'} ${oneLine(r.reason)}; try again later`;
  }
}

export interface GroupInfo {
  name: string;
  description: string;
  count: number;
  low: number;
  high: number;
  /** Posts to it feed the bridge (direction in or inout). */
  postable: boolean;
  /** ms since the epoch when the group first appeared here. */
  created: number;
}

/** What the session needs from the account: groups and articles from the store, posting, passwords. */
export interface Backend {
  hostname: string;
  /** Where attachment n of a post can be downloaded, when the web serves its kept file. */
  fileUrl?(postId: string, n: number): string | undefined;
  groups(): GroupInfo[];
  group(name: string): GroupInfo | undefined;
  /** Article numbers of a group within [low, high], ascending. */
  numbers(group: string, low: number, high: number): number[];
  /** Overview lines (RFC 3977 8.3, without CRLF) of the articles numbered within [low, high], ascending. */
  overview(group: string, low: number, high: number): string[];
  /** The post behind a number. */
  article(group: string, number: number): Post | undefined;
  /** A post by Message-ID (bare), where it is in one of our groups. */
  byId(id: string): { post: Post; group: string; number: number } | undefined;
  /** Message-IDs of articles added to groups matching `match` at or after `since` (ms). */
  newnews(match: (group: string) => boolean, since: number): string[];
  /** The posting policy for this client now. */
  mayPost(remote: string, user: string | undefined): 'yes' | 'after-auth' | 'no';
  /** True when AUTHINFO has users to check. */
  hasUsers(): boolean;
  /** A certificate is configured: STARTTLS is offered, and AUTHINFO from afar waits for TLS. */
  tls: boolean;
  /** True for a client on 127.0.0.0/8 or ::1. */
  isLoopback(remote: string): boolean;
  authenticate(user: string, pass: string): Promise<boolean>;
  /**
   * A received article (dot-stuffing undone, CRLF ends), by POST or, with `offered` (the Message-ID of the IHAVE),
   * by IHAVE: what became of it.
   */
  receive(raw: Buffer, who: { remote: string; user?: string }, offered?: string): Promise<Received>;
  /** The server holds an article with this Message-ID (without <>). */
  has(id: string): boolean;
  /** New articles can be kept now (false: the disk is full or the store read-only). */
  writable(): boolean;
}

export interface Reply {
  /** Complete response text, CRLF-terminated. */
  text: string;
  /** After this reply: read an article (POST), close the connection (QUIT), or start TLS (STARTTLS). */
  then?: 'article' | 'close' | 'starttls';
}

const line = (s: string): Reply => ({ text: `${s}\r\n` });
const multi = (first: string, body: string[]): Reply => ({
  text: `${first}\r\n${dotStuff(body.length ? body.join('\r\n') : '').replace(/^\r\n\.\r\n$/, '.\r\n')}`,
});

const HELP = [
  'ARTICLE [message-id|number]',
  'AUTHINFO USER name | AUTHINFO PASS password',
  'BODY [message-id|number]',
  'CAPABILITIES',
  'DATE',
  'GROUP newsgroup',
  'HDR header [message-id|range]',
  'HEAD [message-id|number]',
  'HELP',
  'IHAVE message-id',
  'LAST',
  'LIST [ACTIVE [wildmat]|ACTIVE.TIMES [wildmat]|DISTRIB.PATS|NEWSGROUPS [wildmat]|OVERVIEW.FMT|HEADERS]',
  'LISTGROUP [newsgroup [range]]',
  'MODE READER',
  'NEWGROUPS date time [GMT]',
  'NEWNEWS wildmat date time [GMT]',
  'NEXT',
  'OVER [message-id|range]',
  'POST',
  'QUIT',
  'STARTTLS',
  'STAT [message-id|number]',
  'XHDR header [message-id|range]',
  'XOVER [range]',
  'XPAT header range|message-id pattern [pattern ...]',
];

export class Session {
  group: string | undefined;
  current: number | undefined;
  user: string | undefined;
  private pendingUser: string | undefined;
  /** The connection is encrypted (implicit TLS, or after STARTTLS). */
  secure: boolean;
  /** What the article the client sends next is for: POST, or IHAVE with its Message-ID. */
  private incoming: { by: 'post' } | { by: 'ihave'; id: string } = { by: 'post' };

  constructor(
    private readonly b: Backend,
    readonly remote: string,
    secure = false,
  ) {
    this.secure = secure;
  }

  greeting(): string {
    return this.b.mayPost(this.remote, this.user) === 'yes'
      ? `200 ${this.b.hostname} peerpost news server ready, posting allowed\r\n`
      : `201 ${this.b.hostname} peerpost news server ready, no posting\r\n`;
  }

  async handle(input: string): Promise<Reply> {
    const { verb, args } = parseCommand(input);
    switch (verb) {
      case 'CAPABILITIES':
        return this.capabilities();
      case 'MODE':
        if (args[0]?.toUpperCase() !== 'READER') return line('501 only MODE READER is known');
        return line(
          this.greeting()
            .replace(/ peerpost news server ready,/, '')
            .replace(/\r\n$/, ''),
        );
      case 'QUIT':
        return { text: '205 closing connection\r\n', then: 'close' };
      case 'HELP':
        return multi(
          '100 help text follows',
          HELP.map((h) => `  ${h}`),
        );
      case 'DATE':
        return args.length ? line('501 DATE takes no argument') : line(`111 ${nntpDate(new Date())}`);
      case 'LIST':
        return this.list(args);
      case 'GROUP':
        return this.groupCmd(args);
      case 'LISTGROUP':
        return this.listgroup(args);
      case 'ARTICLE':
      case 'HEAD':
      case 'BODY':
      case 'STAT':
        return this.retrieve(verb, args);
      case 'NEXT':
      case 'LAST':
        return this.step(verb, args);
      case 'OVER':
      case 'XOVER':
        return this.over(verb, args);
      case 'HDR':
      case 'XHDR':
        return this.hdr(verb, args);
      case 'XPAT':
        return this.xpat(args);
      case 'NEWNEWS':
        return this.newnews(args);
      case 'NEWGROUPS':
        return this.newgroups(args);
      case 'POST':
        return this.postCmd(args);
      case 'IHAVE':
        return this.ihave(args);
      case 'AUTHINFO':
        return this.authinfo(args);
      case 'STARTTLS':
        return this.starttls(args);
      case '':
        return line('500 empty command');
      default:
        return line(`500 unknown command ${oneLine(verb).slice(0, 40)}`);
    }
  }

  /** After a 340 (POST) or 335 (IHAVE): the article the client sent. */
  async article(raw: Buffer): Promise<string> {
    const who = { remote: this.remote, ...(this.user ? { user: this.user } : {}) };
    const what = this.incoming;
    this.incoming = { by: 'post' };
    return articleAnswer(what.by, await this.b.receive(raw, who, what.by === 'ihave' ? what.id : undefined));
  }

  /** After a 340 or 335: the article was larger than the limit (and was read to its end, unkept). */
  tooBig(max: number): string {
    const by = this.incoming.by;
    this.incoming = { by: 'post' };
    return articleAnswer(by, {
      status: 'rejected',
      code: 'too-large',
      reason: `the article is larger than ${max} octets`,
    });
  }

  private capabilities(): Reply {
    const caps = [
      'VERSION 2',
      'READER',
      'HDR',
      'OVER MSGID',
      'NEWNEWS',
      'LIST ACTIVE ACTIVE.TIMES DISTRIB.PATS NEWSGROUPS OVERVIEW.FMT HEADERS',
      'IMPLEMENTATION peerpost',
    ];
    if (this.b.mayPost(this.remote, this.user) === 'yes') caps.push('POST', 'IHAVE');
    if (this.b.tls && !this.secure && !this.user) caps.push('STARTTLS');
    if (!this.user && this.b.hasUsers() && !this.authNeedsTls()) caps.push('AUTHINFO USER');
    return multi('101 capability list follows', caps);
  }

  private list(args: string[]): Reply {
    const kw = (args[0] ?? 'ACTIVE').toUpperCase();
    const match = args[1] ? wildmat(args[1]) : () => true;
    if (args.length > 2) return line('501 too many arguments');
    switch (kw) {
      case 'ACTIVE':
        return multi(
          '215 list of newsgroups follows',
          this.b
            .groups()
            .filter((g) => match(g.name))
            .map((g) => `${g.name} ${g.high} ${g.low} ${g.postable ? 'y' : 'n'}`),
        );
      case 'ACTIVE.TIMES':
        // RFC 3977 7.6.4: name, when it was created (seconds since 1970), who created it.
        return multi(
          '215 information follows',
          this.b
            .groups()
            .filter((g) => match(g.name))
            .map((g) => `${g.name} ${Math.floor(g.created / 1000)} peerpost`),
        );
      case 'DISTRIB.PATS':
        // RFC 3977 7.6.5: no distributions are defaulted here; the list is empty.
        return args[1] ? line('501 DISTRIB.PATS takes no argument') : multi('215 information follows', []);
      case 'NEWSGROUPS':
        return multi(
          '215 descriptions follow',
          this.b
            .groups()
            .filter((g) => match(g.name))
            .map((g) => `${g.name}\t${oneLine(g.description) || g.name}`),
        );
      case 'OVERVIEW.FMT':
        return args[1]
          ? line('501 OVERVIEW.FMT takes no argument')
          : multi('215 order of fields in overview database', OVERVIEW_FMT);
      case 'HEADERS':
        return args[1] && !/^(MSGID|RANGE)$/i.test(args[1])
          ? line('501 LIST HEADERS takes MSGID or RANGE')
          : multi('215 headers supported', [':', ':bytes', ':lines']);
      default:
        return line(`501 unknown LIST keyword ${oneLine(kw).slice(0, 30)}`);
    }
  }

  private groupCmd(args: string[]): Reply {
    if (args.length !== 1) return line('501 usage: GROUP newsgroup');
    const g = this.b.group(args[0]!.toLowerCase());
    if (!g) return line('411 no such newsgroup');
    this.group = g.name;
    this.current = g.count ? g.low : undefined;
    return line(`211 ${g.count} ${g.low} ${g.high} ${g.name}`);
  }

  private listgroup(args: string[]): Reply {
    if (args.length > 2) return line('501 usage: LISTGROUP [newsgroup [range]]');
    const name = args[0]?.toLowerCase() ?? this.group;
    if (!name) return line('412 no newsgroup selected');
    const g = this.b.group(name);
    if (!g) return line('411 no such newsgroup');
    const r = args[1] ? parseRange(args[1]) : { low: 1, high: Number.MAX_SAFE_INTEGER };
    if (!r) return line('501 bad range');
    this.group = g.name;
    this.current = g.count ? g.low : undefined;
    return multi(
      `211 ${g.count} ${g.low} ${g.high} ${g.name} list follows`,
      this.b.numbers(g.name, r.low, r.high).map(String),
    );
  }

  /** The article an ARTICLE/HEAD/BODY/STAT/OVER/HDR argument names, or the error reply. */
  private pick(arg: string | undefined): { post: Post; number: number; group: string; byId: boolean } | Reply {
    if (arg !== undefined && arg.startsWith('<')) {
      if (!/^<[^<>\s]+>$/.test(arg) || arg.length > 250) return line('501 bad message-id');
      const hit = this.b.byId(arg.slice(1, -1));
      return hit ? { ...hit, byId: true } : line('430 no article with that message-id');
    }
    if (arg !== undefined && !/^\d{1,15}$/.test(arg)) return line('501 not an article number or message-id');
    if (!this.group) return line('412 no newsgroup selected');
    let n: number;
    if (arg === undefined) {
      if (this.current === undefined) return line('420 current article number is invalid');
      n = this.current;
    } else n = Number(arg);
    const post = this.b.article(this.group, n);
    if (!post)
      return line(arg === undefined ? '420 current article number is invalid' : '423 no article with that number');
    return { post, number: n, group: this.group, byId: false };
  }

  private render(post: Post, group: string, number: number): RenderedArticle {
    return renderArticle(post, {
      hostname: this.b.hostname,
      group,
      number,
      fileUrl: (n) => this.b.fileUrl?.(post.id, n),
    });
  }

  private retrieve(verb: string, args: string[]): Reply {
    if (args.length > 1) return line(`501 usage: ${verb} [message-id|number]`);
    const p = this.pick(args[0]);
    if ('text' in p) return p;
    if (!p.byId) this.current = p.number;
    const n = p.byId ? 0 : p.number;
    const id = `<${p.post.id}>`;
    if (verb === 'STAT') return line(`223 ${n} ${id}`);
    const a = this.render(p.post, p.group, p.number);
    if (verb === 'HEAD') return { text: `221 ${n} ${id}\r\n${dotStuff(headText(a))}` };
    if (verb === 'BODY') return { text: `222 ${n} ${id}\r\n${dotStuff(bodyText(a))}` };
    return { text: `220 ${n} ${id}\r\n${dotStuff(articleText(a))}` };
  }

  private step(verb: string, args: string[]): Reply {
    if (args.length) return line(`501 ${verb} takes no argument`);
    if (!this.group) return line('412 no newsgroup selected');
    if (this.current === undefined) return line('420 current article number is invalid');
    const nums =
      verb === 'NEXT'
        ? this.b.numbers(this.group, this.current + 1, Number.MAX_SAFE_INTEGER).slice(0, 1)
        : this.b.numbers(this.group, 0, this.current - 1).slice(-1);
    const n = nums[0];
    const post = n === undefined ? undefined : this.b.article(this.group, n);
    if (n === undefined || !post)
      return line(verb === 'NEXT' ? '421 no next article in this group' : '422 no previous article in this group');
    this.current = n;
    return line(`223 ${n} <${post.id}>`);
  }

  /** The articles a range-or-message-id argument names (OVER, HDR). */
  private many(arg: string | undefined, allowId: boolean): { post: Post; number: number; group: string }[] | Reply {
    if (arg?.startsWith('<')) {
      if (!allowId) return line('501 XOVER takes a range, not a message-id');
      const p = this.pick(arg);
      return 'text' in p ? p : [{ post: p.post, number: 0, group: p.group }];
    }
    if (arg === undefined) {
      const p = this.pick(undefined);
      return 'text' in p ? p : [p];
    }
    if (!this.group) return line('412 no newsgroup selected');
    const r = parseRange(arg);
    if (!r) return line('501 bad range');
    const g = this.group;
    const out = this.b.numbers(g, r.low, r.high).flatMap((n) => {
      const post = this.b.article(g, n);
      return post ? [{ post, number: n, group: g }] : [];
    });
    return out.length ? out : line('423 no articles in that range');
  }

  private over(verb: string, args: string[]): Reply {
    if (args.length > 1) return line(`501 usage: ${verb} [range]`);
    if (args[0] !== undefined && !args[0].startsWith('<')) {
      // A range: the stored overview lines, as they are.
      if (!this.group) return line('412 no newsgroup selected');
      const r = parseRange(args[0]);
      if (!r) return line('501 bad range');
      const rows = this.b.overview(this.group, r.low, r.high);
      return rows.length
        ? { text: `224 overview information follows\r\n${rows.join('\r\n')}\r\n.\r\n` }
        : line('423 no articles in that range');
    }
    const list = this.many(args[0], verb === 'OVER');
    if ('text' in list) return list;
    return multi(
      '224 overview information follows',
      list.map((x) => {
        // By message-id the number field is 0; the Xref still gives the real one.
        const a = this.render(x.post, x.group, x.number || (this.b.byId(x.post.id)?.number ?? 0));
        return overviewLine(a, x.number);
      }),
    );
  }

  private hdr(verb: string, args: string[]): Reply {
    if (args.length < 1 || args.length > 2) return line(`501 usage: ${verb} header [range|message-id]`);
    const field = args[0]!;
    const list = this.many(args[1], true);
    if ('text' in list) return list;
    const rows = list.map((x) => {
      const a = this.render(x.post, x.group, x.number || (this.b.byId(x.post.id)?.number ?? 0));
      return `${x.number} ${oneLine(headerValue(a, field) ?? '')}`.trimEnd();
    });
    return multi(verb === 'HDR' ? '225 headers follow' : `221 ${oneLine(field)} fields follow`, rows);
  }

  /**
   * XPAT (RFC 2980 2.9): the articles of a range (or one by Message-ID) whose header matches the pattern, as
   * "number value" lines (number 0 by Message-ID, as XHDR). The words after the range are one pattern joined by
   * spaces (as INN reads them), a wildmat matched without regard to case.
   */
  private xpat(args: string[]): Reply {
    if (args.length < 3) return line('501 usage: XPAT header range|message-id pattern [pattern ...]');
    const [field, where] = [args[0]!, args[1]!];
    const pattern = args.slice(2).join(' ');
    if (pattern.length > 512) return line('501 the pattern is longer than 512 characters');
    const list = this.many(where, true);
    if ('text' in list) return list;
    const match = headerWildmat(pattern);
    const rows = list.flatMap((x) => {
      const a = this.render(x.post, x.group, x.number || (this.b.byId(x.post.id)?.number ?? 0));
      const value = oneLine(headerValue(a, field) ?? '');
      return value && match(value) ? [`${x.number} ${value}`] : [];
    });
    return multi(`221 ${oneLine(field)} matches follow`, rows);
  }

  private newnews(args: string[]): Reply {
    if (args.length < 3 || args.length > 4 || (args[3] && args[3].toUpperCase() !== 'GMT'))
      return line('501 usage: NEWNEWS wildmat yyyymmdd hhmmss [GMT]');
    const since = parseDateTime(args[1]!, args[2]!);
    if (since === undefined) return line('501 bad date or time');
    return multi(
      '230 list of new articles follows',
      this.b.newnews(wildmat(args[0]!), since).map((id) => `<${id}>`),
    );
  }

  private newgroups(args: string[]): Reply {
    if (args.length < 2 || args.length > 3 || (args[2] && args[2].toUpperCase() !== 'GMT'))
      return line('501 usage: NEWGROUPS yyyymmdd hhmmss [GMT]');
    const since = parseDateTime(args[0]!, args[1]!);
    if (since === undefined) return line('501 bad date or time');
    return multi(
      '231 list of new newsgroups follows',
      this.b
        .groups()
        .filter((g) => g.created >= since)
        .map((g) => `${g.name} ${g.high} ${g.low} ${g.postable ? 'y' : 'n'}`),
    );
  }

  private postCmd(args: string[]): Reply {
    if (args.length) return line('501 POST takes no argument');
    const may = this.b.mayPost(this.remote, this.user);
    if (may === 'after-auth') return line('480 authentication required to post');
    if (may === 'no') return line('440 posting not permitted');
    this.incoming = { by: 'post' };
    return { text: '340 send article to be posted; end it with <CR-LF>.<CR-LF>\r\n', then: 'article' };
  }

  /**
   * IHAVE (RFC 3977 6.3.2): a peer offers an article by its Message-ID. 435 when we have it, 436 when it cannot be
   * kept now (the disk is full: the peer tries again later), else 335 and the article follows. Allowed to whoever
   * may POST.
   */
  private ihave(args: string[]): Reply {
    if (args.length !== 1 || !/^<[^<>\s]+>$/.test(args[0]!) || args[0]!.length > 250)
      return line('501 IHAVE takes one message-id');
    const may = this.b.mayPost(this.remote, this.user);
    if (may === 'after-auth') return line('480 authentication required to transfer articles');
    if (may === 'no') return line('502 transfer not permitted');
    const id = args[0]!.slice(1, -1);
    if (this.b.has(id)) return line('435 article not wanted: we have it');
    if (!this.b.writable())
      return line(
        '436 transfer not possible now (the server cannot store articles: disk full or read-only); try again later',
      );
    this.incoming = { by: 'ihave', id };
    return { text: '335 send article to be transferred; end it with <CR-LF>.<CR-LF>\r\n', then: 'article' };
  }

  /** With a certificate, a password from beyond loopback travels only encrypted. */
  private authNeedsTls(): boolean {
    return this.b.tls && !this.secure && !this.b.isLoopback(this.remote);
  }

  private starttls(args: string[]): Reply {
    if (args.length) return line('501 STARTTLS takes no argument');
    if (!this.b.tls) return line('580 no TLS here: the server has no certificate');
    if (this.secure) return line('502 the connection is encrypted already');
    if (this.user) return line('502 STARTTLS is not possible after authentication');
    return { text: '382 continue with TLS negotiation\r\n', then: 'starttls' };
  }

  private async authinfo(args: string[]): Promise<Reply> {
    const sub = args[0]?.toUpperCase();
    if (sub !== 'USER' && sub !== 'PASS') return line('501 usage: AUTHINFO USER name | AUTHINFO PASS password');
    if (args.length !== 2) return line(`501 usage: AUTHINFO ${sub} ${sub === 'USER' ? 'name' : 'password'}`);
    if (this.user) return line('502 already authenticated');
    if (this.authNeedsTls()) return line('483 encryption required: STARTTLS first');
    if (!this.b.hasUsers()) return line('502 no AUTHINFO here: this server has no users');
    if (sub === 'USER') {
      this.pendingUser = args[1]!;
      return line('381 password required');
    }
    if (this.pendingUser === undefined) return line('482 AUTHINFO USER first');
    const user = this.pendingUser;
    this.pendingUser = undefined;
    if (!(await this.b.authenticate(user, args[1]!))) return line('481 authentication failed');
    this.user = user;
    return line('281 authentication accepted');
  }
}
