/**
 * peerpost search: the archive's full-text search (src/archive/search.ts) from the operator's shell. Reads the store
 * read-only, so it runs whether the daemon runs or not. The operator sees full addresses (it is the owner's shell).
 */
import { findConfig } from '../config/find.js';
import { CodedError } from '../errors.js';
import { EXIT } from '../plugin.js';
import { searchArchive, MAX_LIMIT } from '../archive/search.js';
import { parse, out, err, loadOrReport, openToRead, UsageError } from './common.js';
import type { CliCommand } from './index.js';
import { plural } from '../util.js';

const HELP = `Usage: peerpost search [-b BRIDGE] [--json] [--limit N] [--cursor C] QUERY...

Search the archive (every post of every bridge, events left out) and print the
best matches first (relevance, newest first among equals), or the newest first
with sort:date.

The query:
  words          every word must appear (in the subject, the body or the author)
  "a phrase"     these words in this order (quote it for the shell: '"a phrase"')
  word*          a word beginning so
  -word          must not appear (also -"a phrase", -author:bob)
  author:alice   in the author's name or address; subject:word in the subject
  bridge:NAME    only that bridge
  before:DATE    dated before DATE (2026-01-31 or 2026-01-31T12:00Z); after:DATE at or after it
  thread:ID      only the thread of that post (a Message-ID)
  sort:date      newest first

Any word that is not one of the options below is part of the query, -word too.

  -b, --bridge BRIDGE  only this bridge (may be given more than once)
  --limit N            at most N results (1..${MAX_LIMIT}, default 20)
  --cursor C           the next page: the cursor the previous page printed
  --json               one JSON object: {results:[...], next}

Addresses are shown in full: this is the operator's shell, not a public view (the
web and its /api/search show them as the bridge's archive.addresses says).
Reads the store without writing to it, so it runs while peerpost runs.
Exit 2 when the query cannot be run (the message says why).
`;

/** The options this command knows (with whether they take a value); every other word is the query's, -word too. */
const OPTIONS: Record<string, boolean> = {
  '-b': true,
  '--bridge': true,
  '--limit': true,
  '--cursor': true,
  '-c': true,
  '--config': true,
  '--json': false,
  '--verbose': false,
  '-h': false,
  '--help': false,
};

/** Split the options from the query's words, so `peerpost search meeting -cancelled` searches for -cancelled. */
function splitArgs(args: string[]): { options: string[]; words: string[] } {
  const options: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      words.push(...args.slice(i + 1));
      break;
    }
    const name = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (!(name in OPTIONS)) words.push(a);
    else if (OPTIONS[name] && name === a) {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      options.push(a, args[++i]!);
    } else options.push(a);
  }
  return { options, words };
}

async function run(args: string[]): Promise<number> {
  const split = splitArgs(args);
  const { values } = parse(split.options, {
    bridge: { type: 'string', short: 'b', multiple: true },
    json: { type: 'boolean' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const query = split.words.join(' ');
  if (!query.trim()) throw new UsageError('what to search for? give a QUERY (as: peerpost search meeting notes)');
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new UsageError(`--limit takes a number from 1 to ${MAX_LIMIT}, not "${values.limit}"`);
  }
  const found = findConfig({ given: values.config });
  const config = await loadOrReport(found, values.verbose);
  if (!config) return EXIT.CONFIG;
  const store = openToRead(found, config);
  try {
    let page;
    try {
      page = searchArchive(store.db, query, {
        ...(limit !== undefined ? { limit } : {}),
        ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
        ...(values.bridge?.length ? { bridges: values.bridge } : {}),
        addresses: 'show',
      });
    } catch (e) {
      if (e instanceof CodedError && e.code === 'bad-query') throw new UsageError(e.message);
      throw e;
    }
    if (values.json) {
      out(
        JSON.stringify({
          results: page.hits.map((h) => ({
            id: h.post.id,
            bridge: h.post.bridge,
            date: h.post.date,
            author: h.post.author,
            subject: h.post.subject ?? null,
            snippet: h.snippet,
            score: h.score,
          })),
          next: page.next ?? null,
        }),
      );
      return EXIT.OK;
    }
    if (page.hits.length === 0) {
      err(`no post matches ${page.query.terms.join(' ')}`);
      return EXIT.OK;
    }
    for (const h of page.hits) {
      const p = h.post;
      const who = p.author.address ? `${p.author.name} <${p.author.address}>` : p.author.name;
      out(`${p.date.slice(0, 16).replace('T', ' ')}  ${p.bridge}  ${who}  <${p.id}>`);
      if (p.subject) out(`  ${p.subject}`);
      out(`  ${h.snippet.replace(/\s+/g, ' ').trim()}`);
      out('');
    }
    err(
      page.next
        ? `${plural(page.hits.length, 'result')}; more with --cursor ${page.next}`
        : `${plural(page.hits.length, 'result')}`,
    );
    return EXIT.OK;
  } finally {
    store.close();
  }
}

export const searchCommand: CliCommand = {
  name: 'search',
  summary: 'search the archive (words, "phrases", -word, author:, bridge:, before:, after:)',
  help: HELP,
  run,
};
