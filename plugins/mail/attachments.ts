/**
 * The files of mail posts, kept so a list whose policy is `attachments: pass`
 * sends them on as real MIME attachments (issue 4: "attachments listed in the
 * post, passed on to mail subscribers or stripped by list policy").
 *
 * A Post carries only what its attachments were (name, type, size: the core's
 * `attachments`); the content lives here, in `mail_attachments`, keyed by the
 * post id (the Message-ID) and the attachment's index in `post.attachments`.
 * Other plugins see only the metadata.
 *
 * Crash safety: the files are committed BEFORE the post is handed to the core,
 * so a post is never in the store without its files. Rows start "uncommitted";
 * once the core answers accepted/duplicate they are marked committed. Rows of a
 * post that was refused are dropped at once; rows left uncommitted by a crash
 * between the two commits are swept: kept (and marked) when the post exists,
 * dropped when it does not.
 *
 * Retention: `keepAttachments` (account key, default 30 days): files older than
 * that are dropped; list mail sent later (a long retry) names them as "no longer
 * kept". `0` keeps them as long as the post.
 *
 * Removal: a post removed from the archive (ctx.onRemoved) has its files erased at once.
 *
 * Tables are shared by every mail account of the node (a post taken by one mail
 * account and delivered through another finds its files).
 */
import type { PluginStore } from '../../src/plugin.js';
import type { KeptAttachment } from './services.js';

export const ATTACHMENT_MIGRATIONS = [
  `CREATE TABLE mail_attachments (
     post_id TEXT NOT NULL,
     n INTEGER NOT NULL,
     filename TEXT NOT NULL,
     content_type TEXT NOT NULL,
     content BLOB NOT NULL,
     stored_at INTEGER NOT NULL,
     committed INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (post_id, n)
   )`,
  'CREATE INDEX mail_attachments_stored ON mail_attachments (stored_at)',
] as const;
export const ATTACHMENT_PART = 'attachments';

/** One attachment's content, as parsed from the mail. `n` is its index in the post's `attachments` list. */
export interface StoredFile {
  n: number;
  filename: string;
  contentType: string;
  content: Buffer;
}

/** Uncommitted rows younger than this are left alone by the sweep (their post may be committing right now). */
export const ORPHAN_AGE_MS = 60 * 60_000;

export class AttachmentStore {
  private readonly st;

  constructor(private readonly store: PluginStore) {
    store.migrate(ATTACHMENT_MIGRATIONS, ATTACHMENT_PART);
    this.st = {
      has: store.prepare('SELECT count(*) FROM mail_attachments WHERE post_id = ?').pluck(),
      insert: store.prepare(
        'INSERT INTO mail_attachments (post_id, n, filename, content_type, content, stored_at, committed) VALUES (?, ?, ?, ?, ?, ?, 0)',
      ),
      files: store.prepare(
        'SELECT n, filename, content_type AS contentType, content FROM mail_attachments WHERE post_id = ? ORDER BY n',
      ),
      kept: store.prepare(
        'SELECT n, filename, content_type AS contentType, length(content) AS size FROM mail_attachments WHERE post_id = ? ORDER BY n',
      ),
      one: store.prepare(
        'SELECT n, filename, content_type AS contentType, length(content) AS size, content FROM mail_attachments WHERE post_id = ? AND n = ?',
      ),
      commit: store.prepare('UPDATE mail_attachments SET committed = 1 WHERE post_id = ? AND committed = 0'),
      erase: store.prepare('DELETE FROM mail_attachments WHERE post_id = ?'),
      dropUncommitted: store.prepare('DELETE FROM mail_attachments WHERE post_id = ? AND committed = 0'),
      orphans: store
        .prepare('SELECT DISTINCT post_id FROM mail_attachments WHERE committed = 0 AND stored_at < ?')
        .pluck(),
      expire: store.prepare('DELETE FROM mail_attachments WHERE stored_at < ?'),
      bytes: store.prepare(
        'SELECT count(*) AS files, coalesce(sum(length(content)), 0) AS bytes FROM mail_attachments',
      ),
    };
  }

  /**
   * Keep the files of a post about to be ingested, in one transaction of their
   * own (committed before the post is). Nothing is written when the post id
   * has files already (a resend of the same Message-ID keeps the first).
   * Returns whether rows were written.
   */
  put(postId: string, files: StoredFile[], now = Date.now()): boolean {
    if (files.length === 0) return false;
    return this.store.transaction(() => {
      if ((this.st.has.get(postId) as number) > 0) return false;
      for (const f of files) this.st.insert.run(postId, f.n, f.filename, f.contentType, f.content, now);
      return true;
    });
  }

  /** The post is in the store: its files stay. */
  committed(postId: string): void {
    this.st.commit.run(postId);
  }

  /** The post was not taken: drop the files written for it (committed ones, of an earlier post with that id, stay). */
  discard(postId: string): void {
    this.st.dropUncommitted.run(postId);
  }

  /** The post was removed from the archive (peerpost remove, archive.keep, a cancel): its files go too. */
  erase(postId: string): number {
    return this.st.erase.run(postId).changes;
  }

  files(postId: string): StoredFile[] {
    return (this.st.files.all(postId) as StoredFile[]).map((f) => ({ ...f, content: Buffer.from(f.content) }));
  }

  /**
   * The files of a post that are kept, without their content: what the web offers for download. Ask only for
   * a post in the store: its rows are its files even before they are marked committed (the web hears of the
   * post, from ctx.onPost, a moment before the list side marks them).
   */
  kept(postId: string): KeptAttachment[] {
    return this.st.kept.all(postId) as KeptAttachment[];
  }

  /** One kept file of a post, with its content (again: of a post in the store). */
  file(postId: string, n: number): (KeptAttachment & { content: Buffer }) | undefined {
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    const f = this.st.one.get(postId, n) as (KeptAttachment & { content: Buffer }) | undefined;
    return f && { ...f, content: Buffer.from(f.content) };
  }

  /**
   * Sweep: uncommitted rows older than ORPHAN_AGE_MS are marked committed when
   * their post exists (a crash between the two commits) and dropped when it does
   * not; with keepMs > 0, files stored longer ago than that are dropped.
   */
  sweep(postExists: (id: string) => boolean, keepMs: number, now = Date.now()): { orphans: number; expired: number } {
    let orphans = 0;
    for (const id of this.st.orphans.all(now - ORPHAN_AGE_MS) as string[]) {
      if (postExists(id)) this.committed(id);
      else {
        this.discard(id);
        orphans++;
      }
    }
    const expired = keepMs > 0 ? this.st.expire.run(now - keepMs).changes : 0;
    return { orphans, expired };
  }

  size(): { files: number; bytes: number } {
    return this.st.bytes.get() as { files: number; bytes: number };
  }
}
