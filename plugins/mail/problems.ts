/**
 * A list's recent delivery problems, for its owner page: every bounce recorded
 * against a subscriber (a DSN to LIST-bounces@, or a 5xx of the smarthost), with
 * the score it gave. A table of its own (migration part "problems"), kept 30 days.
 */
import type { PluginStore } from '../../src/plugin.js';
import type { ListProblem } from './services.js';

export const MIGRATIONS = [
  `CREATE TABLE mail_problems (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     account TEXT NOT NULL,
     list TEXT NOT NULL,
     address TEXT NOT NULL,
     reason TEXT NOT NULL,
     score INTEGER NOT NULL,
     disabled INTEGER NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX mail_problems_by_list ON mail_problems(account, list, at);`,
];
export const MIGRATION_PART = 'problems';

/** How long a problem is shown. */
export const KEEP_PROBLEMS_MS = 30 * 86_400_000;

export class ProblemLog {
  private readonly q;
  constructor(
    store: PluginStore,
    private readonly account: string,
  ) {
    store.migrate(MIGRATIONS, MIGRATION_PART);
    this.q = {
      add: store.prepare(
        'INSERT INTO mail_problems (account, list, address, reason, score, disabled, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      recent: store.prepare(
        'SELECT address, reason, score, disabled, at FROM mail_problems WHERE account = ? AND list = ? ORDER BY at DESC, id DESC LIMIT ?',
      ),
      purge: store.prepare('DELETE FROM mail_problems WHERE account = ? AND at < ?'),
    };
  }

  record(list: string, p: Omit<ListProblem, 'at'>, now = Date.now()): void {
    this.q.add.run(this.account, list, p.address, p.reason.slice(0, 500), p.score, p.disabled ? 1 : 0, now);
  }

  recent(list: string, limit = 50): ListProblem[] {
    return (
      this.q.recent.all(this.account, list, limit) as {
        address: string;
        reason: string;
        score: number;
        disabled: number;
        at: number;
      }[]
    ).map((r) => ({ at: r.at, address: r.address, reason: r.reason, score: r.score, disabled: r.disabled === 1 }));
  }

  purge(now = Date.now()): void {
    this.q.purge.run(this.account, now - KEEP_PROBLEMS_MS);
  }
}
