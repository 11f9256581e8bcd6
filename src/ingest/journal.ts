/**
 * The posts said before their commit (docs/design.md, "Said first"), written ahead. Before any place is told a post
 * said first, the post is appended to a file in the data directory as one JSON line: one write(2), no fsync, so it
 * survives the process being killed (not a power cut: said first is off with `node.durability: power`). At the next
 * start, a post of the file that the store does not hold (the process died between saying it and its commit) is
 * ingested again, so that it reaches every place of its bridge and the archive, not only the channels that were told
 * (those may show it twice: at least once, as for any line unconfirmed at a crash). Then the file is emptied. It is
 * emptied too when it has grown past MAX_BYTES and a post is about to be written: the posts before it are committed
 * (a post is said first only when no other waits for its commit or is under way).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Post } from '../post.js';

const MAX_BYTES = 64 * 1024;

export class FirstJournal {
  private fd: number | undefined;
  private size = 0;

  constructor(readonly path: string) {}

  /** Open the file to append (the daemon at its start: the first post said first does not wait for it). */
  open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  /** Before the post is said anywhere. */
  note(post: Post): void {
    const fd = this.open();
    if (this.size > MAX_BYTES) {
      ftruncateSync(fd, 0); // opened to append: the next write goes at the start
      this.size = 0;
    }
    this.size += writeSync(fd, `${JSON.stringify(post)}\n`);
  }

  /** The posts written ahead since the file was last emptied, oldest first (a line cut short by a crash left out). */
  read(): Post[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const posts: Post[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const p = JSON.parse(line) as Post;
        if (typeof p?.id === 'string' && typeof p.origin?.account === 'string') posts.push(p);
      } catch {
        // the last line, torn by the crash: its post was not said (it is written before)
      }
    }
    return posts;
  }

  /** Empty the file (its posts are in the store), and keep it open to append. */
  clear(): void {
    ftruncateSync(this.open(), 0);
    this.size = 0;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
