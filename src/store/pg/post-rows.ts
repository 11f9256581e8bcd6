/**
 * A post as pp_insert_posts takes it (src/store/pg/schema.ts, entry 6): the row's columns, its thread, and its
 * search fields as tsvector text (src/store/pg/tsvector.ts). The Store's group commit sends these; the benches that
 * write the store's own rows with bare `pg` (bench/pg.ts, bench/pg-levers.ts) send the same.
 */
import type { Post } from '../../post.js';
import { placeOf } from '../../migrations.js';
import { searchFields } from './tsvector.js';

/** Post number n of a batch, stored at `now` (`imported`: placed by its own date, left out of the live stream). */
export function postRow(post: Post, n: number, now: number, imported = false) {
  return {
    n,
    id: post.id,
    bridge: post.bridge,
    data: JSON.stringify(post),
    date: post.date ?? null,
    placed_at: placeOf(post, now, imported),
    imported: imported ? 1 : 0,
    // posts.thread (pp_insert_posts computes it so when it is not given: the first of its References, else what it
    // answers, else its own id; SQLite's migration 4 column likewise).
    thread: post.references?.[0] ?? post.inReplyTo ?? post.id,
    indexed: post.kind !== 'event',
    ...searchFields(post),
  };
}
