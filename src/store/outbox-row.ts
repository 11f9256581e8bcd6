/** The outbox's rows as the store hands them out (the `outbox` table: one row per post and endpoint). */
import type { Post } from '../post.js';

export interface OutboxRow {
  row: number;
  postSeq: number;
  postId: string;
  bridge: string;
  endpoint: string;
  shape: string;
  state: 'pending' | 'dead';
  attempts: number;
  nextAt: number;
  createdAt: number;
  lastError: string | null;
  deadAt: number | null;
}

export interface RawOutbox {
  row: number;
  post_seq: number;
  post_id: string;
  bridge: string;
  endpoint: string;
  shape: string;
  state: 'pending' | 'dead';
  attempts: number;
  next_at: number;
  created_at: number;
  last_error: string | null;
  dead_at: number | null;
}

export const toRow = (r: RawOutbox): OutboxRow => ({
  row: r.row,
  postSeq: r.post_seq,
  postId: r.post_id,
  bridge: r.bridge,
  endpoint: r.endpoint,
  shape: r.shape,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  createdAt: r.created_at,
  lastError: r.last_error,
  deadAt: r.dead_at,
});

export interface QueuedDelivery extends OutboxRow {
  post: Post;
}
