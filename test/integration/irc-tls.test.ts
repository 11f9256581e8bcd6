/**
 * TLS with a CA of one's own (`tlsCa`) against a REAL ngircd whose certificate
 * an openssl-made CA signed; and SASL EXTERNAL with a client certificate
 * (`tlsCert`, `tlsKey`) against a small fake TLS IRC server (ngircd has no SASL).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { world, cli, startDaemon, until, sleep, type World, type Running } from '../helpers/daemon.js';
import { ensureNgircd, ensureOpenssl, freePort, stopIrcd, User, type Ircd } from './irc-helpers.js';
import { fileURLToPath } from 'node:url';

const NGIRCD_SH = fileURLToPath(new URL('../../../test/peers/ngircd.sh', import.meta.url));

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 signed by it, and a client certificate (CN=relaybot) signed by it. */
function makePki(dir: string): void {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=peerpost test CA',
    '-days',
    '2',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.pem'),
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, cn, ext] of [
    ['server', 'localhost', true],
    ['client', 'relaybot', false],
  ] as const) {
    openssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.csr`),
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      join(dir, `${name}.csr`),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      join(dir, `${name}.pem`),
      ...(ext ? ['-extfile', join(dir, 'san.ext')] : []),
    ]);
  }
  chmodSync(join(dir, 'server.key'), 0o644); // ngircd reads it as nobody; a throwaway test key
}

let dir: string;
let s: Ircd | undefined;
let w: World;
let d: Running;
let fake: Server | undefined;
const fakeSaw: { lines: string[]; certCN?: string } = { lines: [] };

describe('a CA file, a client certificate and SASL EXTERNAL', () => {
  let uma: User;

  before(async () => {
    ensureNgircd();
    ensureOpenssl();
    dir = mkdtempSync('/tmp/pp-ngircd-');
    chmodSync(dir, 0o755);
    makePki(dir);
    const plain = await freePort();
    const tlsPort = await freePort();
    const out = execFileSync('bash', [NGIRCD_SH, 'start', String(plain), join(dir, 'ircd')], {
      env: {
        ...process.env,
        NGIRCD_MAX_PENALTY: '0',
        NGIRCD_TLS_PORT: String(tlsPort),
        NGIRCD_TLS_CERT: join(dir, 'server.pem'),
        NGIRCD_TLS_KEY: join(dir, 'server.key'),
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    s = { pid: Number(out.trim().split('\n').pop()), port: plain, dir };
    uma = await new User('uma').connect(plain, '#ca');

    // The fake: TLS, asks for a client certificate, offers SASL EXTERNAL and accepts a certificate our CA signed.
    fake = createTlsServer(
      {
        key: readFileSync(join(dir, 'server.key')),
        cert: readFileSync(join(dir, 'server.pem')),
        ca: readFileSync(join(dir, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (sock: TLSSocket) => {
        let buf = '';
        let nick = 'x';
        sock.on('error', () => {});
        sock.on('data', (chunk) => {
          buf += chunk.toString('utf8');
          let i: number;
          while ((i = buf.indexOf('\r\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 2);
            fakeSaw.lines.push(line);
            const [cmd, ...args] = line.split(' ');
            if (cmd === 'CAP' && args[0] === 'LS') sock.write(':fake CAP * LS :sasl=EXTERNAL,PLAIN\r\n');
            else if (cmd === 'CAP' && args[0] === 'REQ') sock.write(`:fake CAP * ACK ${args.slice(1).join(' ')}\r\n`);
            else if (cmd === 'NICK') nick = args[0]!;
            else if (cmd === 'AUTHENTICATE' && args[0] === 'EXTERNAL') sock.write('AUTHENTICATE +\r\n');
            else if (cmd === 'AUTHENTICATE' && args[0] === '+') {
              const cert = sock.getPeerCertificate();
              fakeSaw.certCN = cert?.subject?.CN as string | undefined;
              if (sock.authorized && fakeSaw.certCN === 'relaybot')
                sock.write(
                  `:fake 900 ${nick} ${nick}!u@h relaybot :You are now logged in as relaybot\r\n:fake 903 ${nick} :SASL authentication successful\r\n`,
                );
              else sock.write(`:fake 904 ${nick} :SASL authentication failed\r\n`);
            } else if (cmd === 'CAP' && args[0] === 'END')
              sock.write(`:fake 001 ${nick} :Welcome\r\n:fake 376 ${nick} :End of MOTD\r\n`);
            else if (cmd === 'JOIN')
              sock.write(`:${nick}!u@127.0.0.1 JOIN ${args[0]}\r\n:fake 366 ${nick} ${args[0]} :End\r\n`);
            else if (cmd === 'WHO') sock.write(`:fake 315 ${nick} ${args[0]} :End of WHO\r\n`);
          }
        });
      },
    );
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    const fakePort = (fake.address() as AddressInfo).port;

    w = world();
    w.writeConfig(`
accounts:
  irc.ca: { host: 127.0.0.1, port: ${tlsPort}, nick: cabot, tlsCa: ${join(dir, 'ca.pem')} }
  irc.noca: { host: 127.0.0.1, port: ${tlsPort}, nick: nocabot, reconnect: { first: 200ms, max: 500ms } }
  irc.missing: { host: 127.0.0.1, port: ${tlsPort}, nick: missbot, tlsCa: ${join(dir, 'nope.pem')}, reconnect: { first: 200ms, max: 500ms } }
  irc.ext:
    host: 127.0.0.1
    port: ${fakePort}
    nick: extbot
    tlsCa: ${join(dir, 'ca.pem')}
    tlsCert: ${join(dir, 'client.pem')}
    tlsKey: ${join(dir, 'client.key')}
    sasl: { mechanism: EXTERNAL }
  sink.z: { file: ${w.sink('z')} }
bridges:
  ca:
    endpoints: [irc.ca/#ca, sink.z/x]
  ext:
    endpoints: [irc.ext/#ext, sink.z/y]
`);
    d = await startDaemon(w.config);
    await uma.waitFor((l) => /^:cabot!\S+ JOIN :?#ca/.test(l), 'the bot joins over TLS verified by the CA', 20_000);
  });

  after(async () => {
    uma?.close();
    if (d) assert.equal(await d.stop('SIGTERM'), 0);
    stopIrcd(s);
    fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    w?.cleanup();
  });

  const state = async (name: string) => {
    const r = await cli(['status', '-c', w.config, '--json']);
    return (
      JSON.parse(r.stdout) as { accounts: { name: string; state: string; detail: string | null }[] }
    ).accounts.find((a) => a.name === name)!;
  };

  test("tlsCa: the server's certificate is verified against the CA (chain and address), and it relays", async () => {
    const r = await cli(['post', '-c', w.config, '-b', 'ca', '--from', 'vic', 'verified by our CA']);
    assert.equal(r.code, 0, r.stderr);
    await uma.waitFor((l) => /^:cabot!\S+ PRIVMSG #ca :<vic> verified by our CA$/.test(l), 'the post');
  });

  test('without tlsCa the same server is refused (the CA is unknown); a CA file that is not there is a clear reason', async () => {
    let st = await state('irc.noca');
    for (let i = 0; i < 50 && !/certificate/.test(st.detail ?? ''); i++) {
      await sleep(100);
      st = await state('irc.noca');
    }
    assert.equal(st.state, 'retrying', JSON.stringify(st));
    assert.match(st.detail ?? '', /unable to (get local issuer|verify)/);
    let m = await state('irc.missing');
    for (let i = 0; i < 50 && !/nope\.pem/.test(m.detail ?? ''); i++) {
      await sleep(100);
      m = await state('irc.missing');
    }
    assert.equal(m.state, 'retrying', JSON.stringify(m));
    assert.match(m.detail ?? '', /cannot read \S*nope\.pem: no such file/);
  });

  test('SASL EXTERNAL: the client certificate is presented, AUTHENTICATE EXTERNAL, logged in', async () => {
    await until(() => fakeSaw.lines.some((l) => /^JOIN #ext/.test(l)), 'the bot joins #ext on the fake', 15_000);
    assert.ok(fakeSaw.lines.includes('AUTHENTICATE EXTERNAL'), fakeSaw.lines.join('\n'));
    assert.ok(fakeSaw.lines.includes('AUTHENTICATE +'));
    assert.equal(fakeSaw.certCN, 'relaybot');
    const st = await state('irc.ext');
    assert.equal(st.state, 'connected', JSON.stringify(st));
    assert.doesNotMatch(st.detail ?? '', /SASL failed/);
  });
});
