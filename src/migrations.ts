/**
 * The store's schema: its migrations, in order (append-only, numbered by PRAGMA user_version; src/store.ts runs
 * them), and the SQL functions their triggers call.
 */
import type Database from 'better-sqlite3';
import { addressesIn, publicText } from './archive/privacy.js';

/** Never edit a migration that has shipped; append a new one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE posts (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     bridge TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX posts_by_bridge ON posts(bridge, seq);
   CREATE TABLE outbox (
     row INTEGER PRIMARY KEY,
     post_seq INTEGER NOT NULL REFERENCES posts(seq),
     endpoint TEXT NOT NULL,
     shape TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     last_error TEXT,
     dead_at INTEGER
   );
   CREATE INDEX outbox_queue ON outbox(endpoint, state, row);
   CREATE TABLE native_ids (
     account TEXT NOT NULL,
     target TEXT NOT NULL,
     native_id TEXT NOT NULL,
     post_id TEXT NOT NULL,
     PRIMARY KEY (account, target, native_id)
   ) WITHOUT ROWID;
   CREATE INDEX native_ids_by_post ON native_ids(post_id, account, target);
   CREATE TABLE kv (
     scope TEXT NOT NULL,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (scope, key)
   ) WITHOUT ROWID;
   CREATE TABLE digest_lines (
     id INTEGER PRIMARY KEY,
     bridge TEXT NOT NULL,
     post_seq INTEGER NOT NULL REFERENCES posts(seq),
     at INTEGER NOT NULL
   );
   CREATE INDEX digest_lines_by_bridge ON digest_lines(bridge, id);
   CREATE TABLE plugin_migrations (
     scope TEXT NOT NULL,
     n INTEGER NOT NULL,
     applied_at INTEGER NOT NULL,
     PRIMARY KEY (scope, n)
   ) WITHOUT ROWID;`,
  // What each place already shows, for digests (src/digest/shown.ts).
  `CREATE TABLE shown (
     endpoint TEXT NOT NULL,
     key TEXT NOT NULL,
     post_id TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (endpoint, key)
   ) WITHOUT ROWID;
   CREATE INDEX shown_by_age ON shown(at);
   CREATE TABLE shown_nodes (
     endpoint TEXT NOT NULL,
     node TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (endpoint, node)
   ) WITHOUT ROWID;`,
  // Which posts each of our digests holds, in order, written when it closes (src/digest/keeper.ts): its lines are
  // known from here, never by reading its text back (that stays for other nodes' digests: src/digest/shown.ts).
  `CREATE TABLE digest_posts (
     digest_seq INTEGER NOT NULL REFERENCES posts(seq),
     position INTEGER NOT NULL,
     post_seq INTEGER NOT NULL REFERENCES posts(seq),
     PRIMARY KEY (digest_seq, position)
   ) WITHOUT ROWID;`,
  // The archive (src/archive/): each post's thread (the first of its References, else what it answers, else
  // itself: how mail readers and public-inbox group a thread), the full-text index of every post but events, kept
  // by triggers in the transaction that stores or deletes the post, and the tombstones of removed posts (a removed
  // id never comes back: not by a resend, a news peer or an import).
  `ALTER TABLE posts ADD COLUMN thread TEXT GENERATED ALWAYS AS (coalesce(json_extract(data, '$.references[0]'), json_extract(data, '$.inReplyTo'), id)) VIRTUAL;
   CREATE INDEX posts_by_thread ON posts(thread, seq);
   CREATE VIEW posts_text AS
     SELECT seq, coalesce(json_extract(data, '$.subject'), '') AS subject, json_extract(data, '$.body') AS body,
            trim(coalesce(json_extract(data, '$.author.name'), '') || ' ' || coalesce(json_extract(data, '$.author.address'), '')) AS author
     FROM posts WHERE json_extract(data, '$.kind') IS NOT 'event';
   CREATE VIRTUAL TABLE posts_fts USING fts5(subject, body, author, content = 'posts_text', content_rowid = 'seq',
     tokenize = 'unicode61 remove_diacritics 2');
   INSERT INTO posts_fts(posts_fts) VALUES ('rebuild');
   CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts WHEN json_extract(new.data, '$.kind') IS NOT 'event' BEGIN
     INSERT INTO posts_fts (rowid, subject, body, author) SELECT seq, subject, body, author FROM posts_text WHERE seq = new.seq;
   END;
   CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts WHEN json_extract(old.data, '$.kind') IS NOT 'event' BEGIN
     INSERT INTO posts_fts (posts_fts, rowid, subject, body, author) VALUES ('delete', old.seq,
       coalesce(json_extract(old.data, '$.subject'), ''), json_extract(old.data, '$.body'),
       trim(coalesce(json_extract(old.data, '$.author.name'), '') || ' ' || coalesce(json_extract(old.data, '$.author.address'), '')));
   END;
   CREATE TRIGGER posts_fts_update BEFORE UPDATE OF data ON posts BEGIN
     SELECT raise(ABORT, 'a stored post is never rewritten: remove it (its tombstone stays) instead');
   END;
   CREATE TABLE tombstones (
     id TEXT PRIMARY KEY,
     bridge TEXT,
     reason TEXT NOT NULL,
     by TEXT NOT NULL,
     at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Removal and retention (src/archive/removal.ts, retention.ts): why each tombstone is there (an operator's remove,
  // the bridge's archive.keep, a news peer's cancel), the seq the post had (a seq is never given again: cursors of
  // stream clients, exports and article lists stay true when the newest post is removed), and a trigger that keeps a tombstoned id out of posts by any
  // path (a resend, a peer, an import): its INSERT OR IGNORE is ignored. Retention reads posts by age per bridge.
  `ALTER TABLE tombstones ADD COLUMN cause TEXT NOT NULL DEFAULT 'removed' CHECK (cause IN ('removed', 'retention', 'cancel'));
   ALTER TABLE tombstones ADD COLUMN seq INTEGER;
   CREATE INDEX tombstones_by_seq ON tombstones(seq) WHERE seq IS NOT NULL;
   CREATE INDEX tombstones_by_bridge ON tombstones(bridge, at);
   CREATE INDEX posts_by_age ON posts(bridge, received_at);
   CREATE INDEX digest_posts_by_post ON digest_posts(post_seq);
   CREATE INDEX outbox_by_post ON outbox(post_seq);
   CREATE TRIGGER posts_tombstoned BEFORE INSERT ON posts WHEN EXISTS (SELECT 1 FROM tombstones WHERE id = new.id) BEGIN
     SELECT raise(IGNORE);
   END;`,
  // The post's date (the Date it carries, ISO) as a column of its own: search's before:/after: and sort:date, and
  // export's --since/--until, read it without parsing the stored post (a mailed patch of 40 KB) for every match.
  `ALTER TABLE posts ADD COLUMN date TEXT;
   UPDATE posts SET date = json_extract(data, '$.date');`,
  // The public search index (src/archive/search.ts, index 'public': the web's /search and /api/search): only what
  // every public page shows, whatever a bridge's archive.addresses says: the subject and body with each address
  // as `hide` shows it (alice@…), the author's name and never their address, so a hidden address or domain cannot
  // be searched for. pp_public_text is registered by the Store on every connection it opens (publicText(t, 'hide'));
  // contentless (it stores no text), so the post's own row is read only for a page's marks (from posts_fts).
  `CREATE VIRTUAL TABLE posts_fts_public USING fts5(subject, body, author, content = '', contentless_delete = 1,
     tokenize = 'unicode61 remove_diacritics 2');
   INSERT INTO posts_fts_public (rowid, subject, body, author)
     SELECT seq, pp_public_text(coalesce(json_extract(data, '$.subject'), '')), pp_public_text(json_extract(data, '$.body')),
            pp_public_text(coalesce(json_extract(data, '$.author.name'), ''))
     FROM posts WHERE json_extract(data, '$.kind') IS NOT 'event';
   CREATE TRIGGER posts_fts_public_insert AFTER INSERT ON posts WHEN json_extract(new.data, '$.kind') IS NOT 'event' BEGIN
     INSERT INTO posts_fts_public (rowid, subject, body, author) VALUES (new.seq,
       pp_public_text(coalesce(json_extract(new.data, '$.subject'), '')), pp_public_text(json_extract(new.data, '$.body')),
       pp_public_text(coalesce(json_extract(new.data, '$.author.name'), '')));
   END;
   CREATE TRIGGER posts_fts_public_delete AFTER DELETE ON posts BEGIN
     DELETE FROM posts_fts_public WHERE rowid = old.seq;
   END;`,
  // Search's filters (bridge, date) read from a small covering index rather than from the posts' rows, whose JSON
  // spreads them over many pages (src/archive/search.ts).
  `CREATE INDEX posts_search ON posts(seq, bridge, date);`,
  // One full-text index instead of two (migrations 4 and 7 wrote both in every post's transaction and cost the
  // ingest two thirds of its speed): the public text in subject, body and author (addresses as `hide` shows them,
  // the author's name only), and the addresses apart, the author's in author_address and every one in the subject
  // or body in addresses. The public search reads the first three columns, the operator's all five
  // (src/archive/search.ts). Contentless: the Store writes a post's row from JavaScript in the statement's
  // transaction (Store.insertPost, indexText), which costs a third of what a trigger parsing the post's JSON did;
  // a removed post's row goes by the trigger. Posts of kind event are not indexed.
  `DROP TRIGGER posts_fts_insert;
   DROP TRIGGER posts_fts_delete;
   DROP TABLE posts_fts;
   DROP VIEW posts_text;
   DROP TRIGGER posts_fts_public_insert;
   DROP TRIGGER posts_fts_public_delete;
   DROP TABLE posts_fts_public;
   CREATE VIRTUAL TABLE archive_fts USING fts5(subject, body, author, author_address, addresses, content = '',
     contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
   INSERT INTO archive_fts (rowid, subject, body, author, author_address, addresses)
     SELECT seq, pp_public_text(coalesce(json_extract(data, '$.subject'), '')), pp_public_text(json_extract(data, '$.body')),
            pp_public_text(coalesce(json_extract(data, '$.author.name'), '')), json_extract(data, '$.author.address'),
            pp_addresses(json_extract(data, '$.subject'), json_extract(data, '$.body'))
     FROM posts WHERE json_extract(data, '$.kind') IS NOT 'event';
   CREATE TRIGGER archive_fts_delete AFTER DELETE ON posts BEGIN
     DELETE FROM archive_fts WHERE rowid = old.seq;
   END;
   CREATE TRIGGER posts_by_store BEFORE INSERT ON posts BEGIN
     SELECT pp_store_inserts();
   END;`,
  // A post's place in the archive's time (placed_at, ms): when this node received it, but for a post carried in by
  // `peerpost import` (imported = 1): its own date, never later than when it was imported. The pages, feeds,
  // plans and the API list a bridge newest first by place (posts_by_place), a thread oldest first
  // (posts_by_thread), seq breaking ties: a 2019 post imported today sits among 2019's, not on top. The live
  // stream (/api/stream) follows arrival (seq) and leaves imported posts out (posts_live: a replay does not read
  // past 100,000 imported rows to find the live ones; an import does not write it). A tombstone keeps the place its
  // post had, so a page cursor (a seq) naming a removed post still says where the page starts. Posts imported
  // before this migration are known by their origin (the importer's account is "import").
  `ALTER TABLE posts ADD COLUMN placed_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE posts ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
   UPDATE posts SET imported = 1 WHERE json_extract(data, '$.origin.account') = 'import';
   UPDATE posts SET placed_at = CASE WHEN imported = 1 THEN min(received_at, coalesce(pp_ms(date), received_at))
                                     ELSE received_at END;
   CREATE INDEX posts_by_place ON posts(bridge, placed_at, seq);
   DROP INDEX posts_by_thread;
   CREATE INDEX posts_by_thread ON posts(thread, placed_at, seq);
   CREATE INDEX posts_live ON posts(bridge, seq) WHERE imported = 0;
   ALTER TABLE tombstones ADD COLUMN placed_at INTEGER;`,
  // Search's sort:date orders by place as the pages do (src/archive/search.ts): posts_search covers placed_at too, so
  // a match's place is read from the index, not from its row (where placed_at, added last, sits after the JSON).
  // Retention finds what has outlived archive.keep by place as well (posts_by_place).
  `DROP INDEX posts_search;
   CREATE INDEX posts_search ON posts(seq, bridge, date, placed_at);`,
  // posts_by_age (migration 3) is read by nothing since retention goes by place (posts_by_place, migration 11): one
  // index fewer to write in every post's transaction (issue 19: the POST path).
  `DROP INDEX posts_by_age;`,
  // posts_by_bridge (migration 1) doubles posts_live for every live post, and what read it reads posts_by_place (a
  // bridge's count) or posts_search (the place of the post before a seq) as well: one leaf page fewer in every post's
  // commit, 8 instead of 9 (issue 19: one NNTP client's POST waits for that commit).
  `DROP INDEX posts_by_bridge;`,
];

/**
 * A post's place (migration 10, posts.placed_at, ms since the epoch): `now` (when it is stored), or for an imported
 * post its date when that is earlier (a date that cannot be read, or one in the future, places it now).
 */
export function placeOf(post: { date?: string }, now: number, imported: boolean): number {
  if (!imported || post.date === undefined) return now;
  const t = Date.parse(post.date);
  return Number.isNaN(t) ? now : Math.min(t, now);
}

/** A post's row in archive_fts (migration 9), in its columns' order: what Store.insertPost writes. */
export function indexText(post: {
  subject?: string;
  body: string;
  author: { name?: string; address?: string };
}): [string, string, string, string | null, string] {
  return [
    publicText(post.subject ?? '', 'hide'),
    publicText(post.body, 'hide'),
    publicText(post.author.name ?? '', 'hide'),
    post.author.address ?? null,
    addressesIn(post.subject, post.body),
  ];
}

/**
 * The SQL functions the migrations call (7, 9 and 10), registered on every connection the Store opens, before its
 * migrations (migration 7's triggers called pp_public_text on every insert, until migration 9 dropped them).
 *   pp_public_text(t)     t as the most restrictive public view shows it (publicText(t, 'hide'): alice@…); NULL stays NULL
 *   pp_addresses(s, b)    every address in the texts s and b, space-separated, each once
 *   pp_store_inserts()    nothing: its presence says this connection's posts go in by Store.insertPost (migration 9)
 *   pp_ms(d)              the ISO date d in ms since the epoch; NULL when it cannot be read (migration 10)
 */
export function registerFunctions(db: Database.Database): void {
  db.function('pp_public_text', { deterministic: true }, (t: unknown) =>
    t === null || t === undefined ? null : publicText(String(t), 'hide'),
  );
  db.function('pp_store_inserts', { deterministic: true }, () => null);
  db.function('pp_ms', { deterministic: true }, (d: unknown) => {
    const t = typeof d === 'string' ? Date.parse(d) : NaN;
    return Number.isNaN(t) ? null : t;
  });
  db.function('pp_addresses', { deterministic: true }, (s: unknown, b: unknown) =>
    addressesIn(typeof s === 'string' ? s : undefined, typeof b === 'string' ? b : ''),
  );
}
