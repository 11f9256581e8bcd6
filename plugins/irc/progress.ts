/**
 * How far each outbox row got: the lines of a post the server confirmed on an
 * earlier try, kept in the plugin's store (`progress:<row>`) so that neither a
 * retry nor a restart of peerpost says them again. Read from the store once,
 * then kept in memory: a delivery reads the store only when there is something
 * to read.
 */
import type { PluginStore } from '../../src/plugin.js';

export interface RowProgress {
  /** The post the row carries (a row is never reused, but the check is cheap). */
  id: string;
  /** Lines confirmed. */
  sent: number;
  /**
   * draft/relaymsg (relaymsg.ts): the lines are said by RELAYMSG from this nick. With `said` too, the server refused
   * RELAYMSG after the relay lines at these places (0 = the first) were shown: the post goes on as the other relay
   * lines with the prefix (render.ts, fallbackLines), and `sent` counts the lines shown of both. Absent: ordinary
   * PRIVMSG lines.
   */
  relay?: string;
  said?: number[];
}

const PREFIX = 'progress:';

export class Progress {
  private rows: Set<number> | undefined;

  constructor(private readonly store: PluginStore) {}

  private known(): Set<number> {
    this.rows ??= new Set(this.store.keys(PREFIX).map((k) => Number(k.slice(PREFIX.length))));
    return this.rows;
  }

  get(row: number): RowProgress | undefined {
    return this.known().has(row) ? this.store.get<RowProgress>(`${PREFIX}${row}`) : undefined;
  }

  set(row: number, p: RowProgress): void {
    this.known().add(row);
    this.store.set(`${PREFIX}${row}`, p);
  }

  delete(row: number): void {
    if (this.known().delete(row)) this.store.delete(`${PREFIX}${row}`);
  }
}
