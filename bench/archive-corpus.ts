/**
 * The archive benchmark's corpus: one mboxrd file of N mailing-list messages, the
 * same bytes for every tool that imports it (bench/archive.ts). Deterministic: a
 * seeded PRNG makes everything, so a corpus is named by (N, seed) alone and cached
 * under ~/.cache/peerpost-bench/ (or $PEERPOST_BENCH_CACHE).
 *
 *   node dist/bench/archive-corpus.js [--messages=N] [--seed=S]   prints the path (writes it if missing)
 *
 * What it looks like:
 * - threads of a long-tailed size (most one to three messages, a few of hundreds),
 *   replies with In-Reply-To and References, "Re: " subjects and quoted text with
 *   an attribution line, dated hours to days after what they answer;
 * - dates over ten years (2016–2025), in the senders' time zones;
 * - about 2,000 senders of Zipf-distributed activity (names, some with non-ASCII
 *   letters in RFC 2047 encoded words, addresses at a few dozen domains);
 * - bodies of Zipf-distributed words (common English words first, then technical
 *   words, then a long tail of made-up words), a few hundred bytes to tens of KB,
 *   one message in 200 with a long log or patch (20–60 KB), one in 5,000 a big one
 *   (200–600 KB); some lines start with "From " (mboxrd escapes them);
 * - a few fixed phrases ("memory leak", "pull request") and planted rare words, so
 *   the benchmark's queries have known answers (QUERIES below).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MESSAGES = 100_000;
export const DEFAULT_SEED = 15;
/** Bump when the generator changes what it writes (cached files of another version are not reused). */
const VERSION = 1;
export const LIST_ADDRESS = 'commons@lists.example.org';

/** mulberry32: a small, fast, seeded PRNG; next() in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON =
  `the of and to a in is that for it this be on with as not are was have but or by from at if an you we can which there
  would will should when so do has what all more been one some than then any just also they would about only into out no
  like could my other them these may first new up use its our how see time it's think because used need way where make
  get still does two after here now did same work same want even those each much why very well both while since before
  problem change case code file thanks patch fix version support test build kernel driver memory user system value
  function return error list option config update issue release branch commit tree review series bug crash report`
    .split(/\s+/)
    .filter(Boolean);
const TECH =
  `buffer pointer allocation mutex lock thread scheduler interrupt register device firmware module parser compiler linker
  cache queue socket packet header payload checksum timeout retry backoff latency throughput benchmark regression bisect
  upstream downstream maintainer reviewer signoff backport stable mainline merge rebase conflict revert cherry pick
  endian alignment overflow underflow truncation encoding decoding unicode locale timezone daylight leap epoch timestamp
  filesystem inode directory symlink permission ownership quota journal snapshot replica shard index query planner
  optimizer vacuum transaction rollback savepoint deadlock contention starvation priority inversion watchdog heartbeat
  certificate handshake cipher nonce entropy random seed hash digest signature keyring token session cookie redirect
  proxy gateway firewall route subnet mask broadcast multicast unicast resolver hostname domain mailbox newsgroup digest
  archive thread subject sender recipient bounce envelope relay spool outbox inbox daemon service unit socket activation`
    .split(/\s+/)
    .filter(Boolean);
const FIRST =
  `Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Wendy
  Amir Bea Chen Dmitri Elena Fatima Gustavo Hana Igor Jun Kofi Lena Mateo Nora Oskar Priya Quentin Rosa Sven Tomoko Uma
  Vera Wei Ximena Yusuf Zoe Anders Birgit Ciaran Daria Emeka Farah Goran Helga Ingrid Jonas Kaito Leila Mikko Nadia Otto`
    .split(/\s+/)
    .filter(Boolean);
const LAST =
  `Example Smith Jones Garcia Müller Rossi Novak Kowalski Nguyen Tanaka Okafor Silva Johansson Petrov Dubois Haddad Kim
  Larsen Moreau Nakamura Oliveira Papadopoulos Quinn Romero Schmidt Takahashi Urban Virtanen Weber Yilmaz Zhang Björk
  Castillo Døssing Eriksen Fischer González Hernández Ishikawa Jensen Kaur Lindqvist Martínez Nilsen Ortiz Pérez`
    .split(/\s+/)
    .filter(Boolean);
const DOMAINS =
  `example.org example.com example.net mail.example.org lists.example.net uni-example.edu corp.example.com dev.example.io
  posteo.example mailbox.example.org fastmail.example riseup.example gmx.example web.example kernel.example gnu.example
  debian.example fedora.example suse.example redhat.example intel.example arm.example ibm.example oracle.example`
    .split(/\s+/)
    .filter(Boolean);
/** Phrases planted in sentences (about one sentence in 60), for phrase queries. */
export const PHRASES = [
  'memory leak',
  'pull request',
  'race condition',
  'stack trace',
  'use after free',
  'merge window',
];
/** Rare words planted in one message out of `every`, starting at `offset` (message index in mbox order). */
export const PLANTED = [
  { word: 'quokkafication', every: 9973, offset: 17 },
  { word: 'zephyrgram', every: 25013, offset: 4242 },
];

/** The vocabulary, most frequent first: common English, technical words, then made-up words (fixed seed). */
function vocabulary(size = 60_000): string[] {
  const words = [...new Set([...COMMON, ...TECH])];
  const seen = new Set(words);
  const r = prng(0x5eed);
  const on = ['b', 'c', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'st', 'tr', 'pl', 'gr', 'sh'];
  const nu = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou', 'ea'];
  const co = ['', 'n', 'r', 'l', 's', 'x', 'th', 'nd', 'ck', 'rm'];
  while (words.length < size) {
    const syll = 1 + Math.floor(r() * 3);
    let w = '';
    for (let i = 0; i < syll; i++)
      w += on[Math.floor(r() * on.length)]! + nu[Math.floor(r() * nu.length)]! + co[Math.floor(r() * co.length)]!;
    if (w.length < 4 || seen.has(w)) continue;
    seen.add(w);
    words.push(w);
  }
  return words;
}

export const VOCAB = vocabulary();

/** A Zipf(s) sampler over ranks 0..n-1: cumulative weights, binary search. */
function zipf(n: number, s: number): (u: number) => number {
  const cum = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) cum[i] = acc += 1 / Math.pow(i + 1, s);
  return (u) => {
    const x = u * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const wordRank = zipf(VOCAB.length, 1.07);
const AUTHORS = 2000;
const authorRank = zipf(AUTHORS, 1.0);

interface Author {
  name: string;
  address: string;
  tz: number; // minutes east of UTC
}

function authors(): Author[] {
  const r = prng(0xa17);
  const tzs = [0, 60, 120, -300, -420, -480, 330, 480, 540, 600, -180, 180];
  const out: Author[] = [];
  const used = new Set<string>();
  for (let i = 0; out.length < AUTHORS; i++) {
    const f = FIRST[Math.floor(r() * FIRST.length)]!;
    const l = LAST[Math.floor(r() * LAST.length)]!;
    const local = `${f}.${l}`
      .normalize('NFD')
      .replace(/[^\x20-\x7e]/g, '')
      .toLowerCase();
    const d = DOMAINS[Math.floor(r() * DOMAINS.length)]!;
    const address = `${local}${used.has(`${local}@${d}`) ? i : ''}@${d}`;
    used.add(address);
    out.push({ name: `${f} ${l}`, address, tz: tzs[Math.floor(r() * tzs.length)]! });
  }
  // The first (most active) sender is the one the author queries name.
  out[0] = { name: 'Alice Example', address: 'alice@example.org', tz: 60 };
  return out;
}

export const AUTHOR_LIST = authors();

/** An RFC 2047 encoded word when the text is not ASCII. */
function encodeWord(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return /[",.()<>@;:\\[\]]/.test(s) ? `"${s}"` : s;
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date in the sender's zone. */
function rfcDate(ms: number, tz: number): string {
  const d = new Date(ms + tz * 60_000);
  const sign = tz < 0 ? '-' : '+';
  const a = Math.abs(tz);
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${sign}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
}

/** The mbox "From " line's date (asctime, UTC). */
function asctime(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

function wrap(words: string[], width = 72): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

function sentence(r: () => number): string[] {
  const n = 5 + Math.floor(r() * 16);
  const ws: string[] = [];
  for (let i = 0; i < n; i++) ws.push(VOCAB[wordRank(r())]!);
  if (r() < 1 / 60) {
    const p = PHRASES[Math.floor(r() * PHRASES.length)]!;
    ws.splice(Math.floor(r() * ws.length), 0, ...p.split(' '));
  }
  ws[0] = ws[0]![0]!.toUpperCase() + ws[0]!.slice(1);
  ws[ws.length - 1] += r() < 0.1 ? '?' : '.';
  return ws;
}

/** A message's own text (no quote), from its own seed: paragraphs of wrapped sentences. */
function ownText(seed: number): string[][] {
  const r = prng(seed);
  const u = r();
  // Paragraph count: most 1–4, a tail to ~20.
  const paras = 1 + Math.floor(-Math.log(1 - u) * 2.2);
  const out: string[][] = [];
  for (let p = 0; p < Math.min(paras, 24); p++) {
    const words: string[] = [];
    const sentences = 1 + Math.floor(r() * 4);
    for (let s = 0; s < sentences; s++) words.push(...sentence(r));
    const lines = wrap(words);
    // Some lines start with "From " (mboxrd escapes them as ">From ").
    if (r() < 0.02) lines.unshift(`From the ${VOCAB[wordRank(r())]} side, this is what I see:`);
    out.push(lines);
  }
  return out;
}

/** A long log or patch (for the few big messages), `bytes` long or a little more. */
function appendix(r: () => number, bytes: number): string[] {
  const lines: string[] = [];
  let n = 0;
  const patch = r() < 0.5;
  if (patch) lines.push('---', ` drivers/${VOCAB[wordRank(r())]}/core.c | 42 +++++-----`, '');
  let t = 1000 + r() * 100;
  while (n < bytes) {
    const ws = [];
    for (let i = 0; i < 6 + Math.floor(r() * 8); i++) ws.push(VOCAB[wordRank(r())]!);
    const line = patch
      ? `${r() < 0.5 ? '+' : '-'}\t${ws[0]}_${ws[1]}(${ws.slice(2).join(', ')});`
      : `[${(t += r() * 0.5).toFixed(6)}] ${ws.join(' ')}`;
    lines.push(line);
    n += line.length + 1;
  }
  return lines;
}

interface Meta {
  /** Creation index (stable: Message-IDs are made from it). */
  i: number;
  root: number;
  parent: number; // -1 for a thread's first message
  depth: number;
  date: number; // ms since the epoch, UTC
  author: number;
  seed: number;
}

const START = Date.UTC(2016, 0, 1);
const END = Date.UTC(2026, 0, 1);

/** Every message's place: threads of a long-tailed size, replies after what they answer; sorted by date. */
function plan(n: number, seed: number): Meta[] {
  const r = prng(seed);
  const all: Meta[] = [];
  while (all.length < n) {
    // Pareto-like size: P(size >= k) ~ k^-1.4, capped at 400.
    const size = Math.min(n - all.length, 400, Math.floor(1 / Math.pow(1 - r(), 1 / 1.4)));
    const root = all.length;
    const t0 = START + r() * (END - START - 30 * 86_400_000);
    for (let j = 0; j < size; j++) {
      const i = all.length;
      let parent = -1;
      let date = t0;
      let depth = 0;
      if (j > 0) {
        // Answer the latest message half the time, else any earlier one of the thread.
        parent = r() < 0.5 ? i - 1 : root + Math.floor(r() * j);
        const p = all[parent]!;
        depth = p.depth + 1;
        // Minutes to days later (exponential, mean 9 hours).
        date = p.date + 60_000 + -Math.log(1 - r()) * 9 * 3_600_000;
      }
      all.push({ i, root, parent, depth, date, author: authorRank(r()), seed: (r() * 2 ** 32) >>> 0 });
    }
  }
  return all.sort((a, b) => a.date - b.date || a.i - b.i);
}

function messageId(m: Meta): string {
  const a = AUTHOR_LIST[m.author]!;
  const stamp = new Date(m.date).toISOString().replace(/\D/g, '').slice(0, 14);
  return `<${stamp}.${m.i.toString(36)}.${(m.seed % 46656).toString(36)}@${a.address.split('@')[1]}>`;
}

function subjectOf(m: Meta): string {
  const r = prng(m.seed ^ 0x5b1);
  const n = 3 + Math.floor(r() * 6);
  const ws: string[] = [];
  for (let i = 0; i < n; i++) ws.push(VOCAB[wordRank(r())]!);
  const s = ws.join(' ');
  const kind = r();
  if (kind < 0.25) {
    const of = 1 + Math.floor(r() * 9);
    return `[PATCH${r() < 0.3 ? ` v${2 + Math.floor(r() * 4)}` : ''} ${1 + Math.floor(r() * of)}/${of}] ${ws[0]}: ${ws.slice(1).join(' ')}`;
  }
  if (kind < 0.3) return `[ANNOUNCE] ${s} ${1 + Math.floor(r() * 9)}.${Math.floor(r() * 20)}`;
  return s[0]!.toUpperCase() + s.slice(1);
}

/** One message, as the bytes of an mboxrd entry (the From_ line, headers, body, a blank line). */
function render(m: Meta, byIndex: Meta[], ord: number): string {
  const a = AUTHOR_LIST[m.author]!;
  const r = prng(m.seed ^ 0xb0d7);
  const root = byIndex[m.root]!;
  const subject = m.parent < 0 ? subjectOf(m) : `Re: ${subjectOf(root)}`;
  const h: string[] = [
    `From ${a.address} ${asctime(m.date)}`,
    `From: ${encodeWord(a.name)} <${a.address}>`,
    `To: ${LIST_ADDRESS}`,
    `Subject: ${subject}`,
    `Date: ${rfcDate(m.date, a.tz)}`,
    `Message-ID: ${messageId(m)}`,
  ];
  if (m.parent >= 0) {
    const chain: Meta[] = [];
    for (let p: Meta | undefined = byIndex[m.parent]; p; p = p.parent >= 0 ? byIndex[p.parent] : undefined)
      chain.unshift(p);
    // References: the root and the nearest ten, as mail clients trim them.
    const refs = chain.length > 11 ? [chain[0]!, ...chain.slice(-10)] : chain;
    h.push(`In-Reply-To: ${messageId(byIndex[m.parent]!)}`);
    h.push(`References: ${refs.map(messageId).join('\n ')}`);
  }
  h.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
  const body: string[] = [];
  if (m.parent >= 0) {
    const p = byIndex[m.parent]!;
    const pa = AUTHOR_LIST[p.author]!;
    body.push(`On ${rfcDate(p.date, pa.tz)}, ${pa.name} wrote:`);
    const theirs = ownText(p.seed);
    for (const para of theirs.slice(0, 1 + Math.floor(r() * 2))) body.push(...para.map((l) => `> ${l}`), '>');
    body.pop();
    body.push('');
  }
  const mine = ownText(m.seed);
  for (const para of mine) body.push(...para, '');
  for (const { word, every, offset } of PLANTED)
    if (ord % every === offset) body.push(`By the way: ${word} again, see above.`, '');
  const big = r();
  if (big < 1 / 5000) body.push(...appendix(r, 200_000 + r() * 400_000), '');
  else if (big < 1 / 200) body.push(...appendix(r, 20_000 + r() * 40_000), '');
  body.push('-- ', a.name);
  // mboxrd: a line that is ">*From " gets one more ">".
  const text = body.map((l) => (/^>*From /.test(l) ? `>${l}` : l));
  return `${h.join('\n')}\n\n${text.join('\n')}\n\n`;
}

/** Where the corpus of (messages, seed) is cached. */
export function corpusPath(messages: number, seed: number): string {
  const dir = process.env.PEERPOST_BENCH_CACHE ?? join(homedir(), '.cache', 'peerpost-bench');
  return join(dir, `archive-v${VERSION}-${messages}-seed${seed}.mbox`);
}

export interface Corpus {
  path: string;
  messages: number;
  bytes: number;
  /** sha256 of the file's first MB, to tell two corpora apart in a report. */
  tag: string;
}

/** The corpus of (messages, seed): written on first use (to a temporary name, then renamed), then reused. */
export function corpus(messages = DEFAULT_MESSAGES, seed = DEFAULT_SEED, progress?: (s: string) => void): Corpus {
  const path = corpusPath(messages, seed);
  if (!existsSync(path)) {
    mkdirSync(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const metas = plan(messages, seed);
      const byIndex: Meta[] = [];
      for (const m of metas) byIndex[m.i] = m;
      let chunk: string[] = [];
      let size = 0;
      for (let k = 0; k < metas.length; k++) {
        const s = render(metas[k]!, byIndex, k);
        chunk.push(s);
        size += s.length;
        if (size > 1 << 20) {
          writeSync(fd, chunk.join(''));
          chunk = [];
          size = 0;
        }
        if (progress && k % 10_000 === 9_999) progress(`corpus: ${k + 1} of ${messages} messages written`);
      }
      writeSync(fd, chunk.join(''));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(1 << 20);
  let got: number;
  try {
    got = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const tag = createHash('sha256').update(head.subarray(0, got)).digest('hex').slice(0, 12);
  return { path, messages, bytes: statSync(path).size, tag };
}

/** A query in each tool's syntax. */
export interface Query {
  what: string;
  peerpost: string;
  publicInbox: string;
}

const w = (rank: number) => VOCAB[rank]!;
const rare = (rank: number) => VOCAB[Math.min(rank, VOCAB.length - 1)]!;

/**
 * The 20 queries of the benchmark, the same question in each tool's syntax (public-inbox:
 * Xapian's query parser with its prefixes f: for From, d: for a date range as YYYYMMDD..YYYYMMDD;
 * peerpost: the issue's language, author:, after:, before:). Words are picked by rank in the
 * vocabulary, so the queries are the same for every corpus size.
 */
export const QUERIES: Query[] = [
  { what: 'a common word', peerpost: 'patch', publicInbox: 'patch' },
  { what: 'a common word', peerpost: 'memory', publicInbox: 'memory' },
  { what: 'two common words', peerpost: 'kernel build', publicInbox: 'kernel build' },
  { what: 'a technical word', peerpost: 'watchdog', publicInbox: 'watchdog' },
  { what: 'three words', peerpost: 'driver crash timeout', publicInbox: 'driver crash timeout' },
  { what: 'a mid-frequency made-up word', peerpost: w(2000), publicInbox: w(2000) },
  { what: 'a rare made-up word', peerpost: rare(30_000), publicInbox: rare(30_000) },
  { what: 'a very rare made-up word', peerpost: rare(59_000), publicInbox: rare(59_000) },
  { what: 'a planted word (1 in 9,973 messages)', peerpost: PLANTED[0]!.word, publicInbox: PLANTED[0]!.word },
  { what: 'a word found nowhere', peerpost: 'xylophonequartz', publicInbox: 'xylophonequartz' },
  { what: 'a phrase', peerpost: '"memory leak"', publicInbox: '"memory leak"' },
  { what: 'a phrase', peerpost: '"pull request"', publicInbox: '"pull request"' },
  { what: 'a three-word phrase', peerpost: '"use after free"', publicInbox: '"use after free"' },
  { what: 'an author', peerpost: 'author:alice', publicInbox: 'f:alice' },
  { what: 'an author and a word', peerpost: 'author:alice memory', publicInbox: 'f:alice memory' },
  { what: 'a negation', peerpost: 'patch -review', publicInbox: 'patch -review' },
  { what: 'a phrase and a negation', peerpost: '"race condition" -lock', publicInbox: '"race condition" -lock' },
  {
    what: 'a word in one month',
    peerpost: 'memory after:2021-03-01 before:2021-04-01',
    publicInbox: 'memory d:20210301..20210331',
  },
  {
    what: 'a word in one year',
    peerpost: 'timeout after:2019-01-01 before:2020-01-01',
    publicInbox: 'timeout d:20190101..20191231',
  },
  {
    what: 'a rare word in a date range',
    peerpost: `${w(2000)} after:2018-06-01 before:2023-06-01`,
    publicInbox: `${w(2000)} d:20180601..20230531`,
  },
];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, def: number) => {
    const a = process.argv.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : def;
  };
  const t0 = Date.now();
  const c = corpus(arg('messages', DEFAULT_MESSAGES), arg('seed', DEFAULT_SEED), (s) => process.stderr.write(`${s}\n`));
  process.stderr.write(
    `${c.messages} messages, ${(c.bytes / 2 ** 20).toFixed(1)} MB, tag ${c.tag} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  console.log(c.path);
}
