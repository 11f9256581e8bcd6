/**
 * The web plugin without sockets: escaping and rendering, threads, tokens,
 * what a post from the web may carry, the config schema, and the Prometheus text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DaemonMetrics, DaemonStatus, StoredPost } from '../../src/plugin.js';
import {
  archivePage,
  bodyHtml,
  escapeHtml,
  indexPage,
  postHtml,
  relLinks,
  statusPage,
  threads,
} from '../../plugins/web/html.js';
import { labelValue, metricsText } from '../../plugins/web/metrics.js';
import { openFds, processMonitor } from '../../plugins/web/process.js';
import { openSync, closeSync } from 'node:fs';
import { parsePostInput, verdictAnswer } from '../../plugins/web/posting.js';
import { Tokens, mayPost } from '../../plugins/web/tokens.js';
import { account, targetProblem } from '../../plugins/web/schema.js';
import { defaultPublicUrl } from '../../plugins/web/index.js';
import { healthReport } from '../../plugins/web/app.js';

let seq = 0;
const post = (over: Partial<StoredPost> = {}): StoredPost => {
  seq++;
  return {
    id: `p${seq}@test.example`,
    seq,
    bridge: 'commons',
    origin: { account: 'irc.libera', target: '#commons' },
    author: { name: 'alice', via: 'irc' },
    body: 'hello',
    kind: 'message',
    references: [],
    hops: 0,
    date: '2026-11-27T14:02:09.000Z',
    receivedAt: '2026-11-27T14:02:09.100Z',
    attachments: [],
    ...over,
  };
};

test('escaping: a post is text, never markup, wherever it shows', () => {
  assert.equal(
    escapeHtml(`<script>alert("x")</script>&'`),
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;',
  );
  const evil = post({
    author: { name: '<img src=x onerror=alert(1)>', address: '"><b>@x', via: '<i>' },
    subject: '<h1>big</h1>',
    body: '<script>alert(1)</script>\nline two',
    id: 'a"b<c>@x',
  });
  const html = postHtml(evil, relLinks);
  assert.doesNotMatch(html, /<script|<img|<h1>|<b>|<i>/, html);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;\nline two/);
  assert.match(html, /data-id="a&quot;b&lt;c&gt;@x"/);
  assert.match(html, /href="\/p\/a%22b%3Cc%3E%40x"/);
  const page = archivePage(
    { site: '<site>', name: 'commons', description: '<desc>', posts: [evil], total: 1, join: [] },
    relLinks,
  );
  assert.doesNotMatch(page, /<script>alert|<desc>|<site>/);
  // The only script is our own, from /static.
  assert.deepEqual(
    [...page.matchAll(/<script[^>]*>/g)].map((m) => m[0]),
    ['<script src="/static/live.js" defer>'],
  );
});

test('bodies: links only for http(s) URLs, with quotes escaped; control and bidi characters dropped', () => {
  assert.equal(
    bodyHtml('see https://example.org/a?b=1&c="2" now.'),
    'see <a href="https://example.org/a?b=1&amp;c=" rel="nofollow noopener noreferrer">https://example.org/a?b=1&amp;c=</a>&quot;2&quot; now.',
  );
  assert.equal(
    bodyHtml('javascript:alert(1) and https://x.org.'),
    'javascript:alert(1) and <a href="https://x.org" rel="nofollow noopener noreferrer">https://x.org</a>.',
  );
  assert.equal(bodyHtml('a\u0007b\u202ec\td\ne'), 'abc\td\ne');
});

test('threads: replies under their parents by In-Reply-To or References, newest activity first', () => {
  const a = post({ subject: 'A' });
  const b = post({ subject: 'B' });
  const a1 = post({ inReplyTo: a.id, references: [a.id] });
  const a11 = post({ references: [a.id, a1.id] }); // only References, as news has it
  const orphan = post({ inReplyTo: 'gone@elsewhere', references: ['gone@elsewhere'] });
  const newestFirst = [orphan, a11, a1, b, a];
  const ts = threads(newestFirst);
  assert.deepEqual(
    ts.map((t) => t.post.id),
    [orphan.id, a.id, b.id],
  );
  const ta = ts[1]!;
  assert.deepEqual(
    ta.replies.map((r) => r.post.id),
    [a1.id],
  );
  assert.deepEqual(
    ta.replies[0]!.replies.map((r) => r.post.id),
    [a11.id],
  );
  // A forged header pointing at a newer post cannot make a cycle.
  const x = post();
  const y = post({ inReplyTo: x.id });
  const forged = { ...x, inReplyTo: y.id };
  assert.deepEqual(
    threads([y, forged]).map((t) => t.post.id),
    [x.id],
  );
  const html = archivePage(
    { site: 's', name: 'commons', description: '', posts: newestFirst, total: 5, join: [], older: 3 },
    relLinks,
  );
  assert.match(html, /href="\/b\/commons\?before=3"/);
  assert.match(
    html,
    new RegExp(`<a class="parent" href="/p/gone%40elsewhere">in reply to an earlier post</a>`),
    'a reply whose parent is not on the page links to it',
  );
  assert.equal((html.match(/class="parent"/g) ?? []).length, 1);
  assert.ok(html.indexOf(`data-id="${a1.id}"`) > html.indexOf(`data-id="${a.id}"`));
  assert.match(html, /data-bridge="commons" data-cursor="\d+"/);
});

test('the index: each bridge, how to join each endpoint, account state', () => {
  const html = indexPage(
    'peerpost',
    [
      {
        name: 'commons',
        bridge: 'commons',
        description: 'The commons',
        posts: 2,
        endpoints: [
          {
            key: 'irc.libera/#commons',
            protocol: 'irc',
            direction: 'inout',
            join: '#commons on irc.libera.chat:6697',
            account: 'irc.libera',
            state: 'retrying',
            running: true,
          },
          {
            key: 'nntp.local/peerpost.commons',
            protocol: 'nntp',
            direction: 'out',
            account: 'nntp.local',
            state: 'listening',
            running: true,
          },
        ],
      },
    ],
    relLinks,
  );
  assert.match(html, /<a href="\/b\/commons">commons<\/a>/);
  assert.match(html, /#commons on irc\.libera\.chat:6697/);
  assert.match(html, /class="state wait" data-account="irc\.libera">retrying/);
  assert.match(html, /only receives/);
});

test('tokens: the right grant, constant-time compare of hashes, bridges limited', () => {
  const t = new Tokens([
    { name: 'bot', token: 'a'.repeat(32), bridges: ['commons'] },
    { name: 'admin', token: 'b'.repeat(40), bridges: ['*'] },
  ]);
  assert.equal(t.enabled, true);
  assert.equal(t.check('a'.repeat(32))?.name, 'bot');
  assert.equal(t.check('a'.repeat(31)), undefined);
  assert.equal(t.check(''), undefined);
  assert.equal(t.check('b'.repeat(40))?.name, 'admin');
  const g = t.fromHeader(`Bearer ${'a'.repeat(32)}`);
  assert.ok(!('problem' in g) && mayPost(g, 'commons') && !mayPost(g, 'other'));
  const admin = t.check('b'.repeat(40))!;
  assert.ok(mayPost(admin, 'anything'));
  assert.deepEqual(t.fromHeader(undefined), { problem: 'no token: send Authorization: Bearer TOKEN' });
  assert.deepEqual(t.fromHeader('Basic abc'), { problem: 'the Authorization header is not "Bearer TOKEN"' });
  assert.deepEqual(t.fromHeader('Bearer nope'), { problem: 'the token is not valid' });
  assert.equal(new Tokens([]).enabled, false);
});

test('posting input: what is taken, what is refused with a reason', () => {
  assert.deepEqual(
    parsePostInput({
      body: 'hi\r\nthere',
      subject: ' S ',
      from: 'bob',
      inReplyTo: '<x@y>',
      references: ['<a@b>', 'x@y'],
      id: 'me@here',
    }),
    { body: 'hi\nthere', subject: 'S', from: 'bob', inReplyTo: 'x@y', references: ['a@b', 'x@y'], id: 'me@here' },
  );
  assert.match(parsePostInput({ body: '' }) as string, /"body" must be a non-empty string/);
  assert.match(parsePostInput('hi') as string, /JSON object/);
  assert.match(parsePostInput({ body: 'x', tokn: 1 }) as string, /unknown key "tokn"/);
  assert.match(parsePostInput({ body: 'x', subject: 'a\nb' }) as string, /one line/);
  assert.match(parsePostInput({ body: 'x', from: 'x'.repeat(65) }) as string, /1-64/);
  assert.match(parsePostInput({ body: 'x', inReplyTo: 'no at sign' }) as string, /inReplyTo/);
  assert.deepEqual(
    verdictAnswer({ status: 'accepted', id: 'a@b', seq: 3 }, (id) => `http://h/p/${id}`),
    { status: 201, body: { status: 'accepted', id: 'a@b', seq: 3, url: 'http://h/p/a@b' } },
  );
  assert.deepEqual(verdictAnswer({ status: 'tempfail', code: 'store-full', reason: 'disk full' }), {
    status: 503,
    body: { status: 'tempfail', code: 'store-full', error: 'disk full; nothing was kept, try again later' },
  });
  assert.deepEqual(verdictAnswer({ status: 'rejected', code: 'loop', reason: 'loop' }), {
    status: 422,
    body: { status: 'rejected', code: 'loop', error: 'loop' },
  });
});

test('config: defaults on loopback, names on the web, tokens at least 16 characters, publicUrl a root', () => {
  const c = account.parse({});
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(c.tokens, []);
  assert.deepEqual(c.corsOrigins, []);
  assert.equal(c.stream.maxBuffered, 4 * 1024 * 1024);
  assert.equal(targetProblem('commons'), undefined);
  assert.match(targetProblem('a/b')!, /cannot be a web name/);
  assert.match(targetProblem('#commons')!, /cannot be a web name/);
  assert.equal(account.safeParse({ tokens: [{ name: 'x', token: 'short', bridges: ['commons'] }] }).success, false);
  assert.equal(account.safeParse({ publicUrl: 'https://lists.example.org/sub' }).success, false);
  assert.equal(account.parse({ publicUrl: 'https://lists.example.org/' }).publicUrl, 'https://lists.example.org');
  assert.equal(account.safeParse({ corsOrigins: ['https://a.example/path'] }).success, false);
  assert.equal(account.safeParse({ colour: 'blue' }).success, false);
  assert.equal(account.safeParse({ stream: { heartbeat: 0 } }).success, false);
  assert.equal(account.parse({ stream: { heartbeat: '5s' } }).stream.heartbeat, 5000);
  assert.equal(defaultPublicUrl('127.0.0.1', 8080, 'h'), 'http://127.0.0.1:8080');
  assert.equal(defaultPublicUrl('::1', 8080, 'h'), 'http://[::1]:8080');
  assert.equal(defaultPublicUrl('0.0.0.0', 80, 'lists.example.org'), 'http://lists.example.org:80');
});

const hist = (counts: number[]) => ({
  bounds: [0.001, 0.01, 0.1],
  counts,
  sum: 0.0425,
  count: counts.reduce((a, b) => a + b, 0),
});
const metrics: DaemonMetrics = {
  uptimeSeconds: 42,
  accounts: {
    'irc.libera': {
      protocol: 'irc',
      state: 'connected',
      ingested: { accepted: 5, duplicate: 1, ignored: 0, rejected: 0, tempfail: 0 },
      delivered: 7,
      retried: 2,
      failed: 1,
      deliveryLatency: hist([3, 2, 1, 1]),
    },
    'web.local': {
      protocol: 'web',
      state: 'listening',
      ingested: { accepted: 0, duplicate: 0, ignored: 0, rejected: 0, tempfail: 0 },
      delivered: 0,
      retried: 0,
      failed: 0,
      deliveryLatency: hist([0, 0, 0, 0]),
    },
  },
  outbox: [
    { endpoint: 'irc.libera/#c"x', pending: 3, dead: 1, oldestAgeSeconds: 12.5 },
    { endpoint: 'web.local/commons', pending: 0, dead: 0, oldestAgeSeconds: null },
  ],
  waiting: [
    { account: 'mail.lists', name: 'robot_mail', count: 3, oldestAgeSeconds: 720 },
    { account: 'mail.other', name: 'robot_mail', count: 0, oldestAgeSeconds: null },
    { account: 'x.y', name: 'Not A Metric Name', count: 1, oldestAgeSeconds: 1 },
  ],
  posts: { total: 9, byBridge: { commons: 9 } },
};

test('metrics: Prometheus text with cumulative buckets, escaped labels, one-hot state', () => {
  const text = metricsText(
    metrics,
    { streamClients: 4, streamSlowCuts: 1 },
    {
      residentBytes: 70e6,
      heapUsedBytes: 20e6,
      heapTotalBytes: 30e6,
      externalBytes: 5e6,
      arrayBuffersBytes: 1e6,
      openFds: 42,
      eventLoopLagP99Seconds: 0.012,
      eventLoopLagMaxSeconds: 0.25,
    },
  );
  assert.ok(text.endsWith('\n'));
  const lines = text.split('\n').filter(Boolean);
  // Every sample line is NAME{labels} VALUE, and every family has HELP and TYPE.
  for (const l of lines)
    if (!l.startsWith('#'))
      assert.match(l, /^[a-z_][a-z0-9_]*(\{([a-z_]+="([^"\\\n]|\\["\\n])*",?)*\})? (-?[\d.e+-]+|\+Inf|NaN)$/, l);
  const families = new Set(lines.filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]));
  for (const f of families)
    assert.ok(lines.includes(lines.find((l) => l.startsWith(`# HELP ${f} `))!), `HELP for ${f}`);
  assert.ok(lines.includes('peerpost_posts_in_total{account="irc.libera",protocol="irc",verdict="accepted"} 5'));
  assert.ok(lines.includes('peerpost_posts_out_total{account="irc.libera",protocol="irc",result="delivered"} 7'));
  assert.ok(lines.includes('peerpost_posts_out_total{account="irc.libera",protocol="irc",result="failed"} 1'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_bucket{account="irc.libera",le="0.001"} 3'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_bucket{account="irc.libera",le="0.01"} 5'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_bucket{account="irc.libera",le="0.1"} 6'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_bucket{account="irc.libera",le="+Inf"} 7'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_count{account="irc.libera"} 7'));
  assert.ok(lines.includes('peerpost_delivery_latency_seconds_sum{account="irc.libera"} 0.0425'));
  assert.ok(lines.includes('peerpost_outbox_pending{endpoint="irc.libera/#c\\"x"} 3'));
  assert.ok(lines.includes('peerpost_outbox_oldest_age_seconds{endpoint="irc.libera/#c\\"x"} 12.5'));
  assert.ok(lines.includes('peerpost_outbox_oldest_age_seconds{endpoint="web.local/commons"} 0'));
  assert.ok(lines.includes('peerpost_account_state{account="irc.libera",protocol="irc",state="connected"} 1'));
  assert.ok(lines.includes('peerpost_account_state{account="irc.libera",protocol="irc",state="retrying"} 0'));
  assert.ok(lines.includes('peerpost_account_up{account="web.local",protocol="web"} 1'));
  assert.ok(lines.includes('peerpost_posts_stored{bridge="commons"} 9'));
  assert.ok(lines.includes('peerpost_web_stream_clients 4'));
  assert.ok(lines.includes('peerpost_uptime_seconds 42'));
  assert.ok(lines.includes('peerpost_robot_mail_waiting{account="mail.lists"} 3'));
  assert.ok(lines.includes('peerpost_robot_mail_oldest_seconds{account="mail.lists"} 720'));
  assert.ok(lines.includes('peerpost_robot_mail_waiting{account="mail.other"} 0'));
  assert.ok(lines.includes('peerpost_robot_mail_oldest_seconds{account="mail.other"} 0'));
  assert.equal(lines.filter((l) => l === '# TYPE peerpost_robot_mail_waiting gauge').length, 1, 'one family');
  assert.ok(!text.includes('Not A Metric Name'), 'a queue name that is no metric name is left out');
  assert.equal(labelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  // The process: memory, files, event-loop lag (prom-client's names).
  assert.ok(lines.includes('process_resident_memory_bytes 70000000'));
  assert.ok(lines.includes('process_open_fds 42'));
  assert.ok(lines.includes('nodejs_heap_size_used_bytes 20000000'));
  assert.ok(lines.includes('nodejs_external_memory_bytes 5000000'));
  assert.ok(lines.includes('nodejs_eventloop_lag_p99_seconds 0.012'));
  assert.ok(lines.includes('nodejs_eventloop_lag_max_seconds 0.25'));
  assert.ok(!metricsText(metrics).includes('process_'), 'no process gauges unless given');
});

test('process gauges: memory and open files of this process; a blocked event loop shows in the next window', async () => {
  const mon = processMonitor(1000);
  try {
    const g0 = mon.gauges();
    assert.ok(g0.heapUsedBytes > 0 && g0.residentBytes > g0.heapUsedBytes, JSON.stringify(g0));
    assert.equal(g0.eventLoopLagMaxSeconds, 0, 'nothing measured before the first window ends');
    const before = openFds();
    assert.ok(before !== undefined && before > 2, 'this is Linux: /proc/self/fd is readable');
    const fd = openSync('/dev/null', 'r');
    assert.equal(openFds(), before + 1, 'one more file open, one more fd');
    closeSync(fd);
    // Block the loop for 300 ms inside the first 1 s window, and read once it closed (before the next one does).
    await new Promise<void>((r) =>
      setTimeout(() => {
        const until = Date.now() + 300;
        while (Date.now() < until);
        r();
      }, 50),
    );
    await new Promise((r) => setTimeout(r, 850));
    const g = mon.gauges();
    assert.ok(g.eventLoopLagMaxSeconds >= 0.2, `a 300 ms stall shows: ${g.eventLoopLagMaxSeconds}`);
  } finally {
    mon.stop();
  }
});

test('health: the store writable and every account up or retrying by design', () => {
  const acct = (name: string, state: any, detail: string | null = null) => ({
    name,
    protocol: name.split('.')[0]!,
    state,
    since: 0,
    detail,
    lastError: null,
    endpoints: [],
    delivered: 0,
    ingested: null,
  });
  const ok = healthReport(() => true, {
    accounts: [
      acct('web.local', 'listening'),
      acct('irc.libera', 'retrying', 'connection refused'),
      acct('irc.oftc', 'connected'),
    ],
  });
  assert.equal(ok.ok, true);
  assert.deepEqual(ok.lines, [
    'store: writable',
    'web.local: listening',
    'irc.libera: retrying — connection refused',
    'irc.oftc: connected',
  ]);
  const down = healthReport(() => true, {
    accounts: [acct('web.local', 'listening'), acct('irc.libera', 'banned', 'banned from #commons')],
  });
  assert.equal(down.ok, false);
  assert.ok(down.lines.includes('irc.libera: banned (unhealthy) — banned from #commons'));
  const late = healthReport(() => true, {
    accounts: [acct('web.local', 'listening')],
    late: [
      'mail.lists: robot mail waiting for the smarthost: 1, the oldest for 2h, longer than delivery.alertAfter (1h)',
    ],
  });
  assert.equal(late.ok, false, 'something waited longer than delivery.alertAfter');
  assert.ok(
    late.lines.includes(
      'waiting too long (unhealthy): mail.lists: robot mail waiting for the smarthost: 1, the oldest for 2h, longer than delivery.alertAfter (1h)',
    ),
  );
  assert.equal(healthReport(() => true, { accounts: [acct('web.local', 'listening')], late: [] }).ok, true);
  assert.equal(healthReport(() => true, { accounts: [acct('nntp.local', 'down')] }).ok, false);
  assert.equal(healthReport(() => true, { accounts: [acct('nntp.local', 'starting')] }).ok, false);
  const ro = healthReport(() => false, { accounts: [acct('web.local', 'listening')] });
  assert.equal(ro.ok, false);
  assert.equal(ro.lines[0], 'store: NOT writable (new posts are turned away)');
  assert.equal(
    healthReport(
      () => {
        throw new Error('disk I/O error');
      },
      { accounts: [] },
    ).ok,
    false,
  );
});

test('the status page: states, last errors and waiting reasons, escaped', () => {
  const now = 1_000_000_000;
  const st: DaemonStatus = {
    pid: 1,
    version: '0.1.0',
    uptimeMs: 90_000,
    config: '/c',
    data: '/d',
    digests: { commons: 3 },
    conversations: [
      { bridge: 'commons', lines: 3, places: ['#commons'], first: now - 60_000, last: now, closesBy: now + 600_000 },
    ],
    waiting: [
      {
        account: 'mail.lists',
        name: 'robot_mail',
        what: 'robot mail waiting for the smarthost',
        count: 2,
        oldest: now - 720_000,
        lastError: 'connect ECONNREFUSED <127.0.0.1:25>',
        nextAt: now + 30_000,
      },
    ],
    alertAfterMs: 600_000,
    late: ['mail.lists: robot mail waiting for the smarthost: 2, the oldest for 12m, longer than <10m>'],
    accounts: [
      {
        name: 'irc.libera',
        protocol: 'irc',
        state: 'retrying',
        since: now - 30_000,
        detail: 'reconnecting <soon>',
        lastError: { message: 'ECONNREFUSED <x>', at: now - 5_000 },
        endpoints: [],
        delivered: 3,
        ingested: null,
      },
    ],
    outbox: [
      {
        endpoint: 'irc.libera/#commons',
        pending: 2,
        dead: 1,
        oldest: now - 60_000,
        waiting: { reason: 'not connected <yet>', since: now - 30_000 },
      },
      { endpoint: 'nntp.local/peerpost.commons', pending: 0, dead: 0, oldest: null, waiting: null },
    ],
  };
  const html = statusPage('peerpost', st, now);
  assert.match(
    html,
    /<td>irc\.libera<\/td><td><span class="state wait"[^>]*>retrying<\/span> <span class="dir">for 30 s<\/span>/,
  );
  assert.match(html, /reconnecting &lt;soon&gt;<br><span class="dir">last error 5 s ago: ECONNREFUSED &lt;x&gt;/);
  assert.match(
    html,
    /<td>irc\.libera\/#commons<\/td><td>2 <span class="dir">\(oldest 60 s\)<\/span><\/td><td>not connected &lt;yet&gt; <span class="dir">\(since 30 s ago\)<\/span><\/td><td>1<\/td>/,
  );
  assert.doesNotMatch(html, /nntp\.local\/peerpost\.commons/, 'endpoints with nothing waiting are left out');
  assert.match(html, /up 90 s/);
  assert.match(
    html,
    /<td>mail\.lists<\/td><td>robot mail waiting for the smarthost<\/td><td>2 <span class="dir">\(oldest 12 min\)<\/span><\/td><td>connect ECONNREFUSED &lt;127\.0\.0\.1:25&gt;<\/td>/,
  );
  assert.match(html, /Waiting too long: mail\.lists: robot mail .*longer than &lt;10m&gt;/);
  assert.match(html, /commons: 3 lines wait for the conversation to close/);
  const calm = statusPage('peerpost', { ...st, outbox: [], waiting: [], conversations: [], late: [] }, now);
  assert.match(calm, /Nothing waits: every post has reached every endpoint/);
  assert.doesNotMatch(calm, /robot mail|Waiting too long|Open conversations/);
  const robotOnly = statusPage('peerpost', { ...st, outbox: [], conversations: [] }, now);
  assert.doesNotMatch(robotOnly, /Nothing waits/, 'not "nothing waits" while robot mail waits');
  assert.match(robotOnly, /No delivery waits in the outbox; what waits elsewhere is below/);
});
