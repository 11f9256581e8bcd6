import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, Store, STORE_FILE } from '../../src/store.js';
import { removePosts } from '../../src/archive/removal.js';
import type { AddressPolicy, BridgeView, PostReader } from '../../src/plugin.js';
import { webSearch } from '../../plugins/web/search.js';
import type { Post } from '../../src/post.js';
import { parseQuery, MAX_QUERY_OCTETS } from '../../src/archive/query.js';
import { CANDIDATES, searchArchive } from '../../src/archive/search.js';
import { CodedError } from '../../src/errors.js';

let n = 0;
function post(p: Partial<Post> & { body: string }): Post {
  n++;
  return {
    id: p.id ?? `p${n}@test`,
    bridge: p.bridge ?? 'commons',
    origin: { account: 'irc', target: '#commons' },
    author: p.author ?? { name: 'Alice Example', address: 'alice@example.org', via: 'mail' },
    kind: p.kind ?? 'message',
    references: p.references ?? [],
    hops: 0,
    date: p.date ?? new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
    attachments: [],
    ...p,
  } as Post;
}

function storeWith(posts: Post[]): Store {
  const s = Store.open(':memory:');
  for (const p of posts) s.insertPost(p, Date.now());
  return s;
}

const badQuery = (f: () => unknown) =>
  assert.throws(f, (e: unknown) => e instanceof CodedError && e.code === 'bad-query' && e.message.length > 10);

test('the parser quotes every user word: FTS syntax typed by a user is only text', () => {
  assert.equal(parseQuery('hello world').match, '("hello" AND "world")');
  assert.equal(parseQuery('"a phrase" -spam').match, '("a phrase") NOT "spam"');
  assert.equal(parseQuery('NEAR(a b) AND OR').match, '("NEAR(a" AND "b)" AND "AND" AND "OR")');
  assert.equal(parseQuery('say "it" a"b').match, '("say" AND "it" AND "a""b")');
  assert.equal(parseQuery('meet*').match, '("meet"*)');
  // A NUL would end FTS5's quoted string early ("unterminated string", a 500): it separates words instead.
  assert.equal(parseQuery('"a\u0000b" c').match, '("a b" AND "c")');
  assert.equal(
    parseQuery('author:alice -subject:"re: spam" x').match,
    '({author author_address}: "alice" AND "x") NOT {subject}: "re: spam"',
  );
  const q = parseQuery('x bridge:commons bridge:dev before:2026-02-01 after:2026-01-01 thread:<r@x> sort:date');
  assert.deepEqual(q.bridges, ['commons', 'dev']);
  assert.equal(q.before, '2026-02-01T00:00:00.000Z');
  assert.equal(q.after, '2026-01-01T00:00:00.000Z');
  assert.equal(q.thread, 'r@x');
  assert.equal(q.sort, 'date');
  assert.equal(parseQuery('unterminated "quote here').match, '("unterminated" AND "quote here")');
});

test('queries that cannot run are bad-query errors with a message, never an FTS error', () => {
  badQuery(() => parseQuery(''));
  badQuery(() => parseQuery('   '));
  badQuery(() => parseQuery('-spam -eggs'));
  badQuery(() => parseQuery('* " ( )'));
  badQuery(() => parseQuery('x before:2026-13-01'));
  badQuery(() => parseQuery('x after:yesterday'));
  badQuery(() => parseQuery('x sort:size'));
  badQuery(() => parseQuery('x -bridge:commons'));
  badQuery(() => parseQuery('a'.repeat(MAX_QUERY_OCTETS + 1)));
  badQuery(() => parseQuery(Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ')));
});

test('whatever is typed, a search answers results or bad-query, never an SQLite error', () => {
  const s = storeWith([post({ body: 'the NEAR operator and "quotes" and stars * here' })]);
  const inputs = [
    '"',
    '""',
    '*',
    'NEAR(',
    'NEAR(a b)',
    'AND OR',
    'a OR',
    '^start',
    'col:x',
    '{subject}: x',
    '(((',
    'x"y"z',
    '-',
    '--x y',
    "'",
    'é*',
    'a'.repeat(9000),
  ];
  for (const index of ['full', 'public'] as const) {
    for (const q of inputs) {
      try {
        searchArchive(s.db, q, { index });
      } catch (e) {
        assert.ok(e instanceof CodedError && e.code === 'bad-query', `${index} ${q.slice(0, 20)}: ${String(e)}`);
      }
    }
    assert.equal(searchArchive(s.db, 'NEAR(', { index }).hits.length, 1);
    assert.equal(searchArchive(s.db, '"quotes"', { index }).hits.length, 1);
  }
  s.close();
});

test('a post is found the moment it is stored; events and other bridges are not', () => {
  const s = storeWith([]);
  assert.equal(searchArchive(s.db, 'rhubarb').hits.length, 0);
  s.insertPost(post({ body: 'rhubarb pie tonight' }), Date.now());
  s.insertPost(post({ body: 'rhubarb joined', kind: 'event' }), Date.now());
  s.insertPost(post({ body: 'rhubarb elsewhere', bridge: 'dev' }), Date.now());
  assert.equal(searchArchive(s.db, 'rhubarb').hits.length, 2);
  const only = searchArchive(s.db, 'rhubarb bridge:commons');
  assert.deepEqual(
    only.hits.map((h) => h.post.body),
    ['rhubarb pie tonight'],
  );
  assert.equal(searchArchive(s.db, 'rhubarb', { bridges: ['dev'] }).hits.length, 1);
  s.close();
});

test('ranking: subject over author over body, newest first among equals; sort:date is newest first', () => {
  const s = storeWith([
    post({ id: 'body@t', body: 'we talk about kestrel here, in passing, with other words around it' }),
    post({ id: 'subj@t', subject: 'kestrel', body: 'a bird we saw, with other words around it' }),
    post({
      id: 'auth@t',
      author: { name: 'Kestrel Jones', via: 'irc' },
      body: 'hello there, with other words around it',
    }),
    post({ id: 'same1@t', body: 'falcon', date: '2026-03-01T00:00:00.000Z' }),
    post({ id: 'same2@t', body: 'falcon', date: '2026-03-02T00:00:00.000Z' }),
  ]);
  assert.deepEqual(
    searchArchive(s.db, 'kestrel').hits.map((h) => h.post.id),
    ['subj@t', 'auth@t', 'body@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'falcon').hits.map((h) => h.post.id),
    ['same2@t', 'same1@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'kestrel sort:date').hits.map((h) => h.post.id),
    ['auth@t', 'subj@t', 'body@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'kestrel -bird').hits.map((h) => h.post.id),
    ['auth@t', 'body@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'author:kestrel').hits.map((h) => h.post.id),
    ['auth@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'falcon before:2026-03-02').hits.map((h) => h.post.id),
    ['same1@t'],
  );
  assert.deepEqual(
    searchArchive(s.db, 'falcon after:2026-03-02').hits.map((h) => h.post.id),
    ['same2@t'],
  );
  s.close();
});

test('cursor paging walks every result once, in both sorts; a forged cursor is bad-query', () => {
  const posts = Array.from({ length: 25 }, (_, i) => post({ id: `m${i}@t`, body: `marmot number ${i}` }));
  const s = storeWith(posts);
  for (const sort of ['', ' sort:date']) {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = searchArchive(s.db, `marmot${sort}`, { limit: 10, cursor });
      seen.push(...page.hits.map((h) => h.post.id));
      cursor = page.next;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.equal(new Set(seen).size, 25);
  }
  badQuery(() => searchArchive(s.db, 'marmot', { cursor: 'garbage' }));
  const dateCursor = searchArchive(s.db, 'marmot sort:date', { limit: 5 }).next!;
  badQuery(() => searchArchive(s.db, 'marmot', { cursor: dateCursor }));
  s.close();
});

test('highlights: matches in <mark>, the text escaped, addresses kept private in public views', () => {
  const s = storeWith([
    post({ subject: 'About <b>otters</b>', body: 'Otters & <script>alert(1)</script> are fun' }),
    post({ body: 'write to otters@example.org about beavers' }),
  ]);
  const [hit] = searchArchive(s.db, 'otters -beavers').hits;
  assert.equal(hit!.subjectHtml, 'About &lt;b&gt;<mark>otters</mark>&lt;/b&gt;');
  assert.match(hit!.snippetHtml, /^<mark>Otters<\/mark> &amp; &lt;script&gt;alert\(1\)&lt;\/script&gt; are fun$/);
  const pub = searchArchive(s.db, 'beavers', { addresses: 'obfuscate' }).hits[0]!;
  assert.doesNotMatch(pub.snippetHtml + pub.snippet, /otters@example\.org/);
  assert.equal(
    pub.snippetHtml,
    'write to otters@…ample.org about <mark>beavers</mark>',
    'marks kept outside addresses',
  );
  // A mark inside an address would split it: that mark goes, the address is shown as the policy says.
  for (const q of ['otters beavers', 'example beavers']) {
    const h = searchArchive(s.db, q, { addresses: 'hide' }).hits[0]!;
    assert.equal(h.snippetHtml, 'write to otters@… about <mark>beavers</mark>', q);
  }
  const op = searchArchive(s.db, 'beavers').hits[0]!;
  assert.match(op.snippet, /otters@example\.org/);
  s.close();
});

// The public index (migration 7): what public pages show, so a hidden address cannot be searched for.
const bob = (over: Partial<Post> = {}) =>
  post({
    id: 'bob@t',
    author: { name: 'Bob Smith', address: 'bob@corp.example', via: 'mail' },
    subject: 'Lunch plans',
    body: 'please mail carol@secret.example about lunch',
    ...over,
  });
const HIDDEN = [
  'author:corp',
  'corp',
  'secret',
  'author:bob@corp.example',
  'secret.example',
  'corp*',
  'author:example',
];
const SHOWN = ['carol', 'author:bob', 'smith', 'author:smith', 'lunch', 'subject:lunch', '"mail carol"'];
const found = (s: Store, q: string, index: 'full' | 'public') =>
  searchArchive(s.db, q, { index, addresses: index === 'public' ? 'hide' : 'show' }).hits.map((h) => h.post.id);

test('the public index finds names, subjects and bodies as public pages show them, never a hidden address', () => {
  const s = storeWith([
    bob(),
    post({ id: 'other@t', body: 'nothing about lunch here', author: { name: 'Dee', via: 'irc' } }),
  ]);
  for (const q of HIDDEN) assert.deepEqual(found(s, q, 'public'), [], `public: ${q}`);
  for (const q of SHOWN) assert.ok(found(s, q, 'public').includes('bob@t'), `public: ${q}`);
  for (const q of [...HIDDEN, ...SHOWN]) assert.ok(found(s, q, 'full').includes('bob@t'), `full: ${q}`);
  assert.deepEqual(found(s, 'carol', 'full'), found(s, 'carol', 'public'));
  // A -term is weighed in the public index only: it cannot tell a word of the hidden address by dropping the row
  // (nor by leaving it unmarked: the marks come from the positive terms).
  const neg = searchArchive(s.db, 'carol -secret', { index: 'public', addresses: 'hide' }).hits;
  assert.deepEqual(
    neg.map((h) => h.post.id),
    ['bob@t'],
  );
  assert.equal(neg[0]!.snippetHtml, 'please mail carol@… about lunch', 'the mark inside the address is dropped');
  assert.deepEqual(found(s, 'carol -secret', 'full'), []);
  const marked = searchArchive(s.db, 'lunch -secret', { index: 'public', addresses: 'hide' }).hits[0]!;
  assert.equal(marked.snippetHtml, 'please mail carol@… about <mark>lunch</mark>');
  assert.equal(marked.subjectHtml, '<mark>Lunch</mark> plans');
  // A phrase across an address is one in the public text only: the row is found, shown without marks.
  const across = searchArchive(s.db, '"carol about"', { index: 'public', addresses: 'hide' }).hits;
  assert.deepEqual(
    across.map((h) => [h.post.id, h.snippetHtml, h.subjectHtml]),
    [['bob@t', 'please mail carol@… about lunch', 'Lunch plans']],
  );
  // An address given as the name, or in a subject, is public text too.
  s.insertPost(
    post({
      id: 'named@t',
      subject: 'from dan@hidden.example',
      author: { name: 'dan@hidden.example', via: 'mail' },
      body: 'hi',
    }),
    Date.now(),
  );
  assert.deepEqual(found(s, 'hidden', 'public'), []);
  assert.deepEqual(found(s, 'author:dan', 'public'), ['named@t']);
  assert.deepEqual(found(s, 'hidden', 'full'), ['named@t']);
  // Ranking and sort:date work on the public index as on the full one.
  assert.deepEqual(found(s, 'lunch', 'public'), ['bob@t', 'other@t'], 'the subject weighs more than the body');
  assert.deepEqual(
    searchArchive(s.db, 'lunch sort:date', { index: 'public' }).hits.map((h) => h.post.id),
    ['other@t', 'bob@t'],
  );
  s.close();
});

test('a removed post leaves the public index with the full one; events are never in it', () => {
  const s = storeWith([bob(), post({ id: 'ev@t', kind: 'event', body: 'carol joined' })]);
  assert.deepEqual(found(s, 'carol', 'public'), ['bob@t']);
  const r = removePosts(s, { ids: ['bob@t'] }, { reason: 'spam', by: 'test', cause: 'removed', now: Date.now() });
  assert.equal(r.removed.length, 1);
  for (const index of ['public', 'full'] as const) assert.deepEqual(found(s, 'carol', index), [], index);
  assert.equal(s.db.prepare(`SELECT count(*) FROM archive_fts`).pluck().get(), 0);
  s.close();
});

test('a store made before the public index gains it for the posts it holds (migration 7)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-search-'));
  try {
    const old = new Database(join(dir, STORE_FILE));
    for (const m of MIGRATIONS.slice(0, 5)) old.exec(m);
    old.pragma('user_version = 5');
    const ins = old.prepare('INSERT INTO posts (id, bridge, received_at, data) VALUES (?, ?, ?, ?)');
    ins.run('bob@t', 'commons', 1, JSON.stringify(bob()));
    ins.run('ev@t', 'commons', 2, JSON.stringify(post({ id: 'ev@t', kind: 'event', body: 'carol joined' })));
    old.close();
    const s = Store.open(dir);
    try {
      assert.equal(s.sqlite!.pragma('user_version', { simple: true }), MIGRATIONS.length);
      for (const q of HIDDEN) assert.deepEqual(found(s, q, 'public'), [], `public: ${q}`);
      for (const q of SHOWN) assert.deepEqual(found(s, q, 'public'), ['bob@t'], `public: ${q}`);
      for (const q of HIDDEN) assert.deepEqual(found(s, q, 'full'), ['bob@t'], `full: ${q}`);
      s.insertPost(bob({ id: 'bob2@t', body: 'carol again' }), Date.now());
      assert.deepEqual(found(s, 'carol', 'public'), ['bob2@t', 'bob@t']);
    } finally {
      s.close();
    }
    // A read-only store (the CLI's) searches the public index too.
    const ro = Store.open(dir, { readonly: true, create: false });
    try {
      assert.deepEqual(found(ro, 'corp', 'public'), []);
      assert.equal(found(ro, 'carol', 'public').length, 2);
    } finally {
      ro.close();
    }
    // Without the Store's functions (the sqlite3 shell) the store reads, but a post cannot go in unindexed.
    const raw = new Database(join(dir, STORE_FILE));
    try {
      assert.equal(raw.prepare('SELECT count(*) FROM posts').pluck().get(), 3);
      assert.throws(
        () =>
          raw
            .prepare('INSERT INTO posts (id, bridge, received_at, data) VALUES (?, ?, ?, ?)')
            .run('x@t', 'commons', 3, JSON.stringify(bob({ id: 'x@t' }))),
        /pp_store_inserts/,
      );
    } finally {
      raw.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the web searches the public index unless every bridge it searches shows addresses', () => {
  const s = storeWith([bob(), bob({ id: 'bob-dev@t', bridge: 'dev' })]);
  const indexes: (string | undefined)[] = [];
  const posts = {
    search: (q, o) => {
      indexes.push(o?.index);
      return searchArchive(s.db, q, o);
    },
  } as PostReader;
  const view = (name: string, addresses: AddressPolicy) => ({ name, archive: { addresses } }) as BridgeView;
  const served = [
    { name: 'commons', bridge: 'commons' },
    { name: 'dev', bridge: 'dev' },
  ];
  const web = (q: string, views: BridgeView[], bridge?: string) =>
    webSearch(posts, served, views, { q, ...(bridge ? { bridge } : {}) }).hits.map((h) => h.post.id);
  const mixed = [view('commons', 'show'), view('dev', 'obfuscate')];
  assert.deepEqual(web('corp', mixed), []);
  assert.deepEqual(web('corp', [view('commons', 'show')]), [], 'a bridge without a policy obfuscates');
  assert.deepEqual(web('corp', mixed, 'dev'), []);
  assert.deepEqual(web('corp', mixed, 'commons'), ['bob@t'], 'one bridge that shows addresses: the full index');
  assert.deepEqual(web('corp', [view('commons', 'show'), view('dev', 'show')]).sort(), ['bob-dev@t', 'bob@t']);
  assert.deepEqual(indexes, ['public', 'public', 'public', 'full', 'full']);
  assert.deepEqual(web('author:bob', mixed).sort(), ['bob-dev@t', 'bob@t']);
  s.close();
});

test('a bridge whose matches rank below many of another bridge still gets every one, paged in order', () => {
  // 2,000 strong matches (the word in the subject) in one bridge, 25 weak ones in another: the index alone ranks
  // the other bridge's first; the search widens its first pick of candidates until the asked bridge's are in.
  const posts: Post[] = [];
  for (let i = 0; i < 2000; i++) posts.push(post({ bridge: 'loud', subject: 'otter otter', body: 'otter' }));
  const quiet: string[] = [];
  for (let i = 0; i < 25; i++) {
    const p = post({ bridge: 'quiet', body: `a long text about many things and once an otter ${i}` });
    quiet.push(p.id);
    posts.push(p);
  }
  const s = storeWith(posts);
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 5; page++) {
    const r = searchArchive(s.db, 'otter', { bridges: ['quiet'], limit: 10, ...(cursor ? { cursor } : {}) });
    seen.push(...r.hits.map((h) => h.post.id));
    cursor = r.next;
    if (!cursor) break;
  }
  assert.deepEqual([...seen].sort(), [...quiet].sort(), 'every match of the asked bridge, once');
  assert.equal(new Set(seen).size, 25);
  assert.equal(cursor, undefined, 'and the last page says so');
  // The same through the query language's bridge:, and the loud bridge's best come first when both are asked.
  assert.equal(searchArchive(s.db, 'otter bridge:quiet', { limit: 100 }).hits.length, 25);
  assert.equal(searchArchive(s.db, 'otter', { limit: 5 }).hits[0]!.post.bridge, 'loud');
  s.close();
});

test('a word in more posts than CANDIDATES: its newest are ranked first, the older after them; paging gives every one once', () => {
  // 60 old strong matches (the word in the subject), then CANDIDATES weak ones (in the body); half of each in
  // another bridge. The first pages rank the newest CANDIDATES matches; the old strong ones follow them, best
  // first, so nothing is lost by paging on, through the bridge filter too.
  const s = Store.open(':memory:');
  const strong: string[] = [];
  const all: string[] = [];
  s.transaction(() => {
    for (let i = 0; i < 60 + CANDIDATES; i++) {
      const old = i < 60;
      const p = post({
        bridge: i % 2 ? 'other' : 'commons',
        ...(old ? { subject: `heron ${i}` } : {}),
        body: old ? 'a note' : `a long text about many things and once a heron ${i}`,
      });
      s.insertPost(p, Date.now());
      if (p.bridge === 'commons') {
        all.push(p.id);
        if (old) strong.push(p.id);
      }
    }
  });
  try {
    const first = searchArchive(s.db, 'heron', { limit: 10 });
    assert.equal(first.hits.length, 10);
    assert.ok(
      first.hits.every((h) => h.post.subject === undefined),
      'the first page: the best of the newest matches',
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = searchArchive(s.db, 'heron', { bridges: ['commons'], limit: 100, ...(cursor ? { cursor } : {}) });
      seen.push(...r.hits.map((h) => h.post.id));
      cursor = r.next;
      if (!cursor) break;
    }
    assert.equal(cursor, undefined);
    assert.equal(seen.length, all.length, 'every match of the bridge');
    assert.equal(new Set(seen).size, all.length, 'once each');
    assert.deepEqual(seen.slice(-strong.length).sort(), [...strong].sort(), 'the older matches after the candidates');
    // Fewer matches than CANDIDATES: ranked whole, the strong ones first.
    assert.ok(
      searchArchive(s.db, 'heron note', { limit: 5 }).hits.every(
        (h) => strong.includes(h.post.id) || h.post.bridge === 'other',
      ),
    );
    assert.ok(
      searchArchive(s.db, 'heron bridge:commons', { limit: 5, after: '2000-01-01' }).hits.every((h) =>
        strong.includes(h.post.id),
      ),
    );
  } finally {
    s.close();
  }
});
