/**
 * Text pieces of NNTP with no sockets: group names and wildmats (RFC 3977
 * 4), dot-stuffing (3.1.1), RFC 2047 encoded words, RFC 5322 dates, and the
 * parsing of a posted article's header and body.
 */

/** A group name we serve: lowercase letters, digits, and . + - _ between dots (safe in every wildmat). */
export function groupProblem(name: string): string | undefined {
  if (name.length === 0) return 'a newsgroup name is empty';
  if (Buffer.byteLength(name) > 250) return 'a newsgroup name is at most 250 characters';
  if (!/^[a-z0-9+_-]+(\.[a-z0-9+_-]+)*$/.test(name))
    return `"${name}" is not a newsgroup name (lowercase letters, digits and + - _, in parts separated by single dots, e.g. peerpost.commons)`;
  return undefined;
}

/** RFC 3977 4.2: one wildmat pattern (* ? [...] and \ escapes) to a RegExp. */
function patternRegex(p: string): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = p.slice(i + 1, end);
        const neg = cls.startsWith('^');
        if (neg) cls = cls.slice(1);
        re += `[${neg ? '^' : ''}${cls.replace(/[\\\]]/g, '\\$&')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/**
 * A wildmat (RFC 3977 4.1): patterns separated by commas, a "!" before one
 * excludes; the last pattern that matches decides.
 */
export function wildmat(mat: string): (name: string) => boolean {
  const parts = mat
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) =>
      s.startsWith('!') ? { neg: true, re: patternRegex(s.slice(1)) } : { neg: false, re: patternRegex(s) },
    );
  return (name) => {
    let ok = false;
    for (const p of parts) if (p.re.test(name)) ok = !p.neg;
    return ok;
  };
}

/** Text to the lines of a multi-line block: CRLF ends, a leading "." doubled, the terminating ".". */
export function dotStuff(text: string): string {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.\r\n';
}

/** The lines of a received multi-line block (without the final "."): a leading ".." back to ".". */
export function unstuffLine(line: string): string {
  return line.startsWith('..') ? line.slice(1) : line;
}

/** RFC 5322 date in UTC: "Fri, 27 Nov 2026 06:20:52 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** No CR, LF, tab or other controls in a header value or overview field. */
export function oneLine(s: string): string {
  return s
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** RFC 2047: a phrase or unstructured text, as is when it is ASCII, otherwise in UTF-8 B encoded words of at most 75 characters. */
export function encodeWords(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const words: string[] = [];
  let chunk = '';
  for (const ch of s) {
    // 45 octets of UTF-8 make 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

/** Bytes in a charset we take (utf-8, us-ascii, latin-1 and its Windows superset), or undefined. */
export function decodeCharset(bytes: Buffer, charset: string): string | undefined {
  const cs = charset.toLowerCase().replace(/^"|"$/g, '');
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') return bytes.toString('utf8');
  if (['iso-8859-1', 'latin1', 'latin-1', 'iso8859-1', 'windows-1252', 'cp1252', 'iso-8859-15'].includes(cs))
    return new TextDecoder(
      cs === 'windows-1252' || cs === 'cp1252' ? 'windows-1252' : cs === 'iso-8859-15' ? 'iso-8859-15' : 'latin1',
    ).decode(bytes);
  return undefined;
}

function qDecode(s: string, underscoreIsSpace: boolean): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '_' && underscoreIsSpace) out.push(0x20);
    else if (c === '=' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(c, 'latin1'));
  }
  return Buffer.from(out);
}

/** RFC 2047 encoded words in a header value, decoded; whitespace between two encoded words goes. Unknown charsets stay as written. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)/g, '$1')
    .replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g, (all, cs: string, enc: string, text: string) => {
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : qDecode(text, true);
      return decodeCharset(bytes, cs.replace(/\*.*$/, '')) ?? all;
    });
}

/** Quoted-printable body (RFC 2045 6.7). */
export function qpDecode(s: string): Buffer {
  return qDecode(s.replace(/=\r?\n/g, ''), false);
}

export interface ParsedArticle {
  /** Header fields in order, names as written, values unfolded (raw bytes as latin-1 where not UTF-8). */
  headers: { name: string; value: string }[];
  body: Buffer;
}

/** Split a received article (lines already un-stuffed, CRLF ends) into its unfolded header and its body. */
export function splitArticle(raw: Buffer): ParsedArticle | string {
  let sep = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  if (sep < 0) {
    // A header alone with no body is fine; a bare-LF article too.
    const lf = raw.indexOf('\n\n');
    if (lf >= 0) {
      sep = lf;
      sepLen = 2;
    } else {
      sep = raw.length;
      sepLen = 0;
    }
  }
  const headText = raw.subarray(0, sep).toString('utf8');
  const body = raw.subarray(Math.min(raw.length, sep + sepLen));
  const headers: { name: string; value: string }[] = [];
  for (const line of headText.split(/\r?\n/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line)) {
      const last = headers[headers.length - 1];
      if (!last) return 'the article starts with a continuation line';
      last.value += ' ' + line.trim();
      continue;
    }
    const m = /^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*)$/.exec(line);
    if (!m) return `the header line "${oneLine(line).slice(0, 60)}" is not "Name: value"`;
    headers.push({ name: m[1]!, value: m[2]!.trim() });
  }
  return { headers, body };
}

/** A header field's value by name (any case): the first one. Names of another length are passed over unlowered. */
export const header = (a: ParsedArticle, name: string): string | undefined => {
  const n = name.toLowerCase();
  for (const h of a.headers) if (h.name.length === n.length && h.name.toLowerCase() === n) return h.value;
  return undefined;
};

/** A From header to a display name and an address: `Name <a@b>`, `a@b (Name)`, `a@b`. */
export function parseFrom(value: string): { name: string; address?: string } {
  const v = decodeWords(value).trim();
  const angle = /^(.*?)<([^<>\s]+@[^<>\s]+)>\s*$/.exec(v);
  if (angle) {
    const name = angle[1]!
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .replace(/\\(.)/g, '$1')
      .trim();
    return { name: name || angle[2]!.split('@')[0]!, address: angle[2]! };
  }
  const paren = /^([^\s()]+@[^\s()]+)\s*\((.*)\)\s*$/.exec(v);
  if (paren) return { name: paren[2]!.trim() || paren[1]!.split('@')[0]!, address: paren[1]! };
  if (/^[^\s@]+@[^\s@]+$/.test(v)) return { name: v.split('@')[0]!, address: v };
  return { name: v };
}

/** Message-IDs in a References or In-Reply-To value. */
export function msgIds(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
}

/** The text of a posted body: text/plain in utf-8, us-ascii or latin-1; 7bit, 8bit, quoted-printable or base64. */
export function bodyText(a: ParsedArticle): string | { problem: string } {
  const ct = header(a, 'Content-Type') ?? 'text/plain; charset=us-ascii';
  const type = ct.split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/plain') return { problem: `only text/plain articles are taken here, not ${type}` };
  const cs = /charset\s*=\s*"?([^";\s]+)"?/i.exec(ct)?.[1] ?? 'utf-8';
  const cte = (header(a, 'Content-Transfer-Encoding') ?? '8bit').trim().toLowerCase();
  let bytes: Buffer;
  if (cte === '7bit' || cte === '8bit' || cte === 'binary') bytes = a.body;
  else if (cte === 'quoted-printable') bytes = qpDecode(a.body.toString('latin1'));
  else if (cte === 'base64') bytes = Buffer.from(a.body.toString('latin1').replace(/\s+/g, ''), 'base64');
  else return { problem: `the Content-Transfer-Encoding ${cte} is unknown` };
  const text = decodeCharset(bytes, cs);
  if (text === undefined) return { problem: `the charset ${cs} is not taken here (utf-8, us-ascii or iso-8859-1)` };
  return text.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
}

/** A command line to its verb (upper case) and arguments. */
export function parseCommand(line: string): { verb: string; args: string[] } {
  const parts = line
    .trim()
    .split(/[ \t]+/)
    .filter(Boolean);
  return { verb: (parts[0] ?? '').toUpperCase(), args: parts.slice(1) };
}

/** An article range (RFC 3977 6.1.1.2 style): "n", "n-", "n-m". */
export function parseRange(s: string): { low: number; high: number } | undefined {
  const m = /^(\d{1,15})(-(\d{1,15})?)?$/.exec(s);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : m[3] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[3]);
  return { low, high };
}

/** NEWNEWS/NEWGROUPS date and time: yymmdd or yyyymmdd, hhmmss, always taken as UTC. */
export function parseDateTime(date: string, time: string): number | undefined {
  const dm = /^(\d{2}|\d{4})(\d{2})(\d{2})$/.exec(date);
  const tm = /^(\d{2})(\d{2})(\d{2})$/.exec(time);
  if (!dm || !tm) return undefined;
  let year = Number(dm[1]);
  if (dm[1]!.length === 2) {
    // RFC 3977 7.3.2: the century is the one that puts the date nearest the present (within 50 years).
    const now = new Date().getUTCFullYear();
    year += Math.floor(now / 100) * 100;
    if (year > now + 50) year -= 100;
    else if (year <= now - 50) year += 100;
  }
  const [mo, d, h, mi, s] = [Number(dm[2]), Number(dm[3]), Number(tm[1]), Number(tm[2]), Number(tm[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  return Date.UTC(year, mo - 1, d, h, mi, s);
}

/** DATE's answer: yyyymmddhhmmss in UTC. */
export function nntpDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

type GlobItem = { star: true } | { star: false; test: (c: string) => boolean };

/** One wildmat pattern to items: * (any run), ? (one character), [set] and [^set] with ranges, \x, literals. */
function globItems(p: string): GlobItem[] {
  const cs = Array.from(p.toLowerCase());
  const items: GlobItem[] = [];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') {
      if (items[items.length - 1]?.star !== true) items.push({ star: true });
    } else if (c === '?') items.push({ star: false, test: () => true });
    else if (c === '[' && cs.indexOf(']', i + 2) > 0) {
      let j = i + 1;
      const neg = cs[j] === '^';
      if (neg) j++;
      const ranges: [string, string][] = [];
      let first = true;
      for (; j < cs.length && (first || cs[j] !== ']'); j++, first = false) {
        if (cs[j + 1] === '-' && j + 2 < cs.length && cs[j + 2] !== ']') {
          ranges.push([cs[j]!, cs[j + 2]!]);
          j += 2;
        } else ranges.push([cs[j]!, cs[j]!]);
      }
      if (j >= cs.length) {
        items.push({ star: false, test: (x) => x === '[' });
        continue;
      }
      i = j;
      items.push({ star: false, test: (x) => ranges.some(([a, b]) => x >= a && x <= b) !== neg });
    } else {
      const lit = c === '\\' && i + 1 < cs.length ? cs[++i]! : c;
      items.push({ star: false, test: (x) => x === lit });
    }
  }
  return items;
}

/** Match items against a text in O(text × pattern) at worst: a star is retried one character on, never backtracked deeper. */
function globMatch(items: GlobItem[], text: string): boolean {
  const s = Array.from(text.toLowerCase());
  let i = 0;
  let j = 0;
  let starI = -1;
  let starJ = 0;
  while (j < s.length) {
    const it = items[i];
    if (it && !it.star && it.test(s[j]!)) {
      i++;
      j++;
    } else if (it?.star) {
      starI = i++;
      starJ = j;
    } else if (starI >= 0) {
      i = starI + 1;
      j = ++starJ;
    } else return false;
  }
  while (items[i]?.star) i++;
  return i === items.length;
}

/**
 * A wildmat for header values (XPAT, RFC 2980 2.9): patterns separated by commas, "!" excludes, the last that
 * matches decides; case-insensitive; linear-time matching (a header and a pattern come from the client, so no
 * backtracking regular expression).
 */
export function headerWildmat(mat: string): (value: string) => boolean {
  const parts = mat
    .split(',')
    .filter((s) => s.length > 0)
    .map((s) =>
      s.startsWith('!') ? { neg: true, items: globItems(s.slice(1)) } : { neg: false, items: globItems(s) },
    );
  return (value) => {
    let ok = false;
    for (const p of parts) if (globMatch(p.items, value)) ok = !p.neg;
    return ok;
  };
}
