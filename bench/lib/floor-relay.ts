/**
 * The floors of bench/irc-pace: the least a relay from #a to #b can be in node, run as a child process like the relays
 * it stands beside, so that peerpost's figures can be read against what its own stack costs.
 *
 *   node dist/bench/lib/floor-relay.js node PORT NICK
 *       node alone: one socket, the lines split by hand, a regular expression, the line written at once. No IRC
 *       library, nothing stored: how fast node itself can pass a line on (and its memory with nothing loaded).
 *   node dist/bench/lib/floor-relay.js library PORT NICK DIR
 *       the libraries peerpost is built on and nothing of peerpost: irc-framework (as its README shows it: a
 *       'message' event, a PRIVMSG back) and better-sqlite3 (each line stored in DIR/floor.db, WAL, after it is said),
 *       the smallest relay that keeps what it relays. Its peak RSS is the floor under peerpost's with one IRC account.
 *
 * Both join #a and #b, relay "<nick> text" from #a to #b, answer PING, and stop on SIGTERM.
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';

const [mode, portArg, nick = 'floorbot', dir] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || (mode !== 'node' && mode !== 'library') || (mode === 'library' && !dir)) {
  process.stderr.write('usage: floor-relay.js node PORT NICK | floor-relay.js library PORT NICK DIR\n');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));

if (mode === 'node') {
  const s = createConnection({ host: '127.0.0.1', port });
  s.setNoDelay(true);
  s.write(`NICK ${nick}\r\nUSER ${nick} 0 * :floor relay\r\n`);
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      if (line.startsWith('PING')) s.write(`PONG${line.slice(4)}\r\n`);
      else if (/^:\S+ 001 /.test(line)) s.write('JOIN #a\r\nJOIN #b\r\n');
      else {
        const m = /^:([^!\s]+)!\S+ PRIVMSG #a :(.*)$/.exec(line);
        if (m) s.write(`PRIVMSG #b :<${m[1]}> ${m[2]}\r\n`);
      }
    }
  });
  s.on('close', () => process.exit(1));
} else {
  const { default: Database } = await import('better-sqlite3');
  const { default: irc } = await import('irc-framework');
  const db = new Database(join(dir!, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS line (id INTEGER PRIMARY KEY, nick TEXT, body TEXT, at TEXT)');
  const store = db.prepare('INSERT INTO line (nick, body, at) VALUES (?, ?, ?)');
  const client = new irc.Client();
  client.connect({ host: '127.0.0.1', port, nick });
  client.on('registered', () => {
    client.join('#a');
    client.join('#b');
  });
  client.on('message', (e: { target: string; nick: string; message: string }) => {
    if (e.target !== '#a') return;
    client.raw('PRIVMSG', '#b', `<${e.nick}> ${e.message}`);
    store.run(e.nick, e.message, new Date().toISOString());
  });
}
