/**
 * The config loader: resolution of a good file, and the exact position and
 * wording of every kind of error. YAML is written one line per argument of
 * Y(), so the Nth argument is line N; columns are counted by hand (1-based).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatConfigError, loadConfigFile, parseConfig, type LoadResult } from '../../src/config/load.js';
import type { PeerpostConfig } from '../../src/config/types.js';
import { fakeLookup } from '../helpers/fake-plugins.js';
import { lookupPlugin } from '../../src/loader.js';

const CWD = join(tmpdir(), 'peerpost-config-test');
const Y = (...lines: string[]) => lines.join('\n') + '\n';

function load(text: string, env: Record<string, string> = {}, file = 'test.yaml'): Promise<LoadResult> {
  return parseConfig(text, file, { lookup: fakeLookup().lookup, env, cwd: CWD });
}

async function good(text: string, env: Record<string, string> = {}): Promise<PeerpostConfig> {
  const r = await load(text, env);
  assert.deepEqual(r.ok ? [] : r.errors.map(formatConfigError), []);
  return (r as { config: PeerpostConfig }).config;
}

/** The formatted errors of a file that must not load. */
async function errors(text: string, env: Record<string, string> = {}): Promise<string[]> {
  const r = await load(text, env);
  assert.equal(r.ok, false, 'expected errors');
  return (r as { errors: Parameters<typeof formatConfigError>[0][] }).errors.map(formatConfigError);
}

/** Lines 1-5 of most tests: an irc and an nntp account. */
const ACCOUNTS = ['accounts:', '  irc.libera:', '    host: irc.libera.chat', '    nick: bot', '  nntp.local:'];

test('a good config resolves: durations in ms, absolute data, defaults, both endpoint forms, frozen', async () => {
  const c = await good(
    Y(
      'node:',
      '  hostname: lists.example.org',
      '  data: ./var/pp',
      '  maxHops: 5',
      '  durability: power',
      'delivery:',
      '  retry: { first: 500ms, max: 1h30m }',
      '  giveUpAfter: 2d',
      '  timeout: 45',
      'accounts:',
      '  irc.libera:',
      '    host: irc.libera.chat',
      '    nick: commonsbot',
      '  nntp.local:',
      'bridges:',
      '  commons:',
      '    description: The commons',
      '    endpoints:',
      '      - irc.libera/#commons',
      '      - endpoint: nntp.local/peerpost.commons',
      '        direction: out',
      '        shape: digest',
      '      - { endpoint: irc.libera/#Other, prefix: "!relay", announceLines: 2, nickFormat: "[{nick}]" }',
      '    ignore: { nicks: [Bot1, bot2], patterns: ["^!", "(?i)spam"] }',
      '    replace: [ { pattern: "foo", with: "bar" } ]',
      '    digest: { quiet: 5m, maxLines: 50 }',
    ),
  );
  assert.equal(c.file, resolve(CWD, 'test.yaml'));
  assert.deepEqual(c.node, {
    hostname: 'lists.example.org',
    data: resolve(CWD, 'var/pp'),
    maxHops: 5,
    durability: 'power',
  });
  assert.deepEqual(c.delivery, {
    retryFirstMs: 500,
    retryMaxMs: 5_400_000,
    giveUpAfterMs: 172_800_000,
    timeoutMs: 45_000,
    shutdownGraceMs: 10_000,
    alertAfterMs: 3_600_000,
  });
  assert.deepEqual(c.accounts['irc.libera'], {
    name: 'irc.libera',
    protocol: 'irc',
    instance: 'libera',
    settings: { host: 'irc.libera.chat', port: 6667, nick: 'commonsbot', tls: false },
  });
  assert.deepEqual(c.accounts['nntp.local']!.settings, { listen: { host: '127.0.0.1', port: 1119 } });

  const b = c.bridges.commons!;
  assert.equal(b.name, 'commons');
  assert.equal(b.description, 'The commons');
  assert.deepEqual(b.endpoints, [
    {
      key: 'irc.libera/#commons',
      account: 'irc.libera',
      protocol: 'irc',
      target: '#commons',
      bridge: 'commons',
      direction: 'inout',
      prefix: '!post',
      announceLines: 4,
      options: {},
    },
    {
      key: 'nntp.local/peerpost.commons',
      account: 'nntp.local',
      protocol: 'nntp',
      target: 'peerpost.commons',
      bridge: 'commons',
      direction: 'out',
      shape: 'digest',
      prefix: '!post',
      announceLines: 4,
      options: {},
    },
    {
      key: 'irc.libera/#Other',
      account: 'irc.libera',
      protocol: 'irc',
      target: '#Other',
      bridge: 'commons',
      direction: 'inout',
      prefix: '!relay',
      announceLines: 2,
      options: { nickFormat: '[{nick}]' },
    },
  ]);
  assert.equal(b.endpoints[0]!.shape, undefined);
  assert.deepEqual(b.ignore.nicks, ['bot1', 'bot2']);
  assert.deepEqual(b.ignore.patterns.map(String), ['/^!/', '/spam/i']);
  assert.ok(b.ignore.patterns[1]!.test('SPAM here'));
  assert.equal(b.replace[0]!.pattern.flags, 'g');
  assert.equal('foo foo'.replace(b.replace[0]!.pattern, b.replace[0]!.with), 'bar bar');
  assert.deepEqual(b.digest, { quietMs: 300_000, maxLines: 50, maxAgeMs: 7_200_000, settleMs: 10_000 });

  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.accounts['irc.libera']!.settings));
  assert.ok(Object.isFrozen(b.endpoints[2]!.options));
  assert.ok(Object.isFrozen(b.endpoints));
  assert.throws(() => {
    (c.accounts['irc.libera']!.settings as Record<string, unknown>).port = 1;
  }, TypeError);
  // RegExps stay usable: a g-flag RegExp writes lastIndex.
  assert.ok(!Object.isFrozen(b.replace[0]!.pattern));
});

test('an empty file, or one of only comments, is all defaults', async () => {
  for (const text of ['', '# nothing here\n\n# yet\n', '{}\n']) {
    const c = await good(text);
    assert.deepEqual(c.node, { hostname: hostname(), data: resolve(CWD, 'data'), maxHops: 10, durability: 'process' });
    assert.deepEqual(c.delivery, {
      retryFirstMs: 2000,
      retryMaxMs: 600_000,
      giveUpAfterMs: 259_200_000,
      timeoutMs: 60_000,
      shutdownGraceMs: 10_000,
      alertAfterMs: 3_600_000,
    });
    assert.deepEqual([c.plugins, c.accounts, c.bridges], [{}, {}, {}]);
  }
  // Empty blocks are defaults too.
  const c = await good(Y('node:', 'delivery:', '  retry:', 'accounts:', 'bridges:'));
  assert.equal(c.delivery.retryFirstMs, 2000);
});

test('a top level that is not a mapping is an error', async () => {
  assert.deepEqual(await errors(Y('- a', '- b')), [
    'test.yaml:1:1  the file must be a mapping of keys (node, delivery, plugins, accounts, bridges), got a list',
  ]);
  assert.deepEqual(await errors('hello\n'), [
    'test.yaml:1:1  the file must be a mapping of keys (node, delivery, plugins, accounts, bridges), got "hello"',
  ]);
});

test('a YAML syntax error has its line and column; schema errors before it are kept', async () => {
  assert.deepEqual(await errors(Y('node:', '  maxHops: 0', '  hostname: "unclosed')), [
    'test.yaml:2:12  node.maxHops: expected a whole number from 1 to 100, got 0',
    'test.yaml:4:1  Missing closing "quote',
  ]);
  // Bad indentation: the "missing" nick is an echo of the syntax error and is not reported.
  assert.deepEqual(await errors(Y('accounts:', '  irc.libera:', '    host: x', '   nick: y')), [
    'test.yaml:4:1  All mapping items must start at the same column',
  ]);
});

test('an unknown top-level key points at the key, with a suggestion when one is close', async () => {
  assert.deepEqual(await errors(Y('node:', '  hostname: example.org', 'acounts: {}', 'colour: red')), [
    'test.yaml:3:1  unknown key "acounts" (did you mean "accounts"?)',
    'test.yaml:4:1  unknown key "colour" (expected one of node, delivery, plugins, accounts, bridges)',
  ]);
});

test('an unknown key in an account block (the plugin schema) points at the key', async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS.slice(0, 4), '    prot: 6697', '    colour: red')), [
    'test.yaml:5:5  accounts.irc.libera: unknown key "prot" (did you mean "port"?)',
    'test.yaml:6:5  accounts.irc.libera: unknown key "colour" (expected one of host, port, nick, password, tls)',
  ]);
});

test('unknown keys are errors even where a plugin schema is not strict', async () => {
  assert.deepEqual(await errors(Y('accounts:', '  finger.local:', '    plann: hello', '    motd: hi')), [
    'test.yaml:3:5  accounts.finger.local: unknown key "plann" (did you mean "plan"?)',
    'test.yaml:4:5  accounts.finger.local: unknown key "motd" (expected one of plan)',
  ]);
});

test('a value of the wrong type points at the value', async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS.slice(0, 4), '    port: abc', '    tls: maybe')), [
    'test.yaml:5:11  accounts.irc.libera.port: expected a whole number from 1 to 65535, got "abc"',
    'test.yaml:6:10  accounts.irc.libera.tls: expected true or false, got "maybe"',
  ]);
  assert.deepEqual(await errors(Y('accounts:', '  irc.libera:', '    host: h', '    nick: 42')), [
    'test.yaml:4:11  accounts.irc.libera.nick: expected text, got 42 (put it in quotes to make it text)',
  ]);
});

test('a missing required key points at the mapping that lacks it (or its key when empty)', async () => {
  assert.deepEqual(await errors(Y('accounts:', '  irc.libera:', '    host: irc.libera.chat')), [
    'test.yaml:3:5  accounts.irc.libera: missing required key "nick" (expected text)',
  ]);
  assert.deepEqual(await errors(Y('accounts:', '  irc.libera:')), [
    'test.yaml:2:3  accounts.irc.libera: missing required key "host" (expected text)',
    'test.yaml:2:3  accounts.irc.libera: missing required key "nick" (expected text)',
  ]);
});

test('a missing environment variable is named, at its scalar', async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS.slice(0, 4), '    password: ${IRC_PASSWORD}')), [
    "test.yaml:5:15  environment variable IRC_PASSWORD is not set (used in accounts.irc.libera.password): set it in peerpost's environment (export IRC_PASSWORD=…; under systemd, Environment=IRC_PASSWORD=… in a drop-in)",
  ]);
});

test('${NAME}, ${NAME:-default}, $${ and typing of unquoted substitutions', async () => {
  const c = await good(
    Y(
      'node:',
      '  hostname: ${HOST:-fallback.example}',
      '  data: "./${DATA:-d}/x $${NOT}"',
      '  maxHops: ${HOPS}',
      'accounts:',
      '  irc.libera:',
      '    host: ${IRC_HOST}',
      '    nick: "${NICK:-x}"',
      '    password: "${PIN}"',
    ),
    { HOPS: '7', IRC_HOST: 'irc.example', NICK: '', PIN: '1234' },
  );
  assert.equal(c.node.hostname, 'fallback.example');
  assert.equal(c.node.data, resolve(CWD, 'd/x ${NOT}'));
  assert.equal(c.node.maxHops, 7);
  assert.deepEqual(c.accounts['irc.libera']!.settings, {
    host: 'irc.example',
    port: 6667,
    nick: 'x',
    password: '1234',
    tls: false,
  });
  // An unquoted substitution is typed like YAML; the error names the variable, not the (maybe secret) value.
  assert.deepEqual(await errors(Y(...ACCOUNTS.slice(0, 4), '    password: ${PIN}'), { PIN: '1234' }), [
    'test.yaml:5:15  accounts.irc.libera.password: expected text, got a number (from "${PIN}") (put it in quotes to make it text)',
  ]);
  assert.deepEqual(await errors(Y('node:', '  hostname: ${BAD NAME}')), [
    'test.yaml:2:13  node.hostname: "${BAD NAME}" is not a valid substitution (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)',
  ]);
});

test('an endpoint without a target says how to write one, and catches the comment trap', async () => {
  assert.deepEqual(
    await errors(
      Y(
        ...ACCOUNTS,
        'bridges:',
        '  commons:',
        '    endpoints:',
        '      - irc.libera #commons',
        '      - irc.libera',
        '      - { endpoint: nntp.local/ }',
      ),
    ),
    [
      'test.yaml:9:9  bridges.commons.endpoints[0]: endpoint "irc.libera" has no target: write account/target, e.g. irc.libera/#commons (" #commons" after a space was read as a YAML comment: write irc.libera/#commons)',
      'test.yaml:10:9  bridges.commons.endpoints[1]: endpoint "irc.libera" has no target: write account/target, e.g. irc.libera/#commons',
      'test.yaml:11:21  bridges.commons.endpoints[2].endpoint: endpoint "nntp.local/" has no target: write account/target, e.g. nntp.local/commons',
    ],
  );
});

test('the comment trap inside a flow list is named at the syntax error it causes', async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS, 'bridges:', '  commons:', '    endpoints: [irc.libera #commons]')), [
    'test.yaml:9:1  Flow sequence in block collection must be sufficiently indented and end with a ] (line 8: " #commons" after a space was read as a YAML comment, with the rest of the line: write irc.libera/#commons)',
  ]);
});

test('an endpoint naming an unknown account lists the accounts', async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS, 'bridges:', '  commons:', '    endpoints:', '      - irc.nope/#x')), [
    'test.yaml:9:9  bridges.commons.endpoints[0]: endpoint "irc.nope/#x": no account "irc.nope" (accounts: irc.libera, nntp.local)',
  ]);
});

test('an unknown protocol is an error at the account key, and only there', async () => {
  assert.deepEqual(
    await errors(Y('accounts:', '  gopher.local: {}', 'bridges:', '  b: { endpoints: [gopher.local/x] }')),
    [
      'test.yaml:2:3  accounts.gopher.local: no plugin for protocol "gopher" (shipped: irc, nntp, finger; name a module for it under plugins:)',
    ],
  );
  assert.deepEqual(await errors(Y('accounts:', '  IRC: {}')), [
    'test.yaml:2:3  accounts.IRC: account name "IRC" is not protocol.instance (expected e.g. irc.libera or nntp.local: a lowercase protocol, a dot, then letters, digits, "_" or "-")',
  ]);
});

test('plugin modules are resolved against the config file directory', async () => {
  const { lookup, calls } = fakeLookup();
  const r = await parseConfig(
    Y('plugins:', '  gopher: ./gopher.js', '  web: some-package', 'accounts:', '  gopher.local:', '  web.local:'),
    'conf/test.yaml',
    { lookup, env: {}, cwd: CWD },
  );
  assert.ok(r.ok);
  const module = resolve(CWD, 'conf/gopher.js');
  assert.deepEqual(r.config.plugins, { gopher: module, web: 'some-package' });
  assert.deepEqual(calls, [
    { protocol: 'gopher', module },
    { protocol: 'web', module: 'some-package' },
  ]);
});

test('the same endpoint in two bridges is an error at the second', async () => {
  assert.deepEqual(
    await errors(
      Y(
        ...ACCOUNTS,
        'bridges:',
        '  one:',
        '    endpoints: [irc.libera/#commons]',
        '  two:',
        '    endpoints:',
        '      - nntp.local/commons',
        '      - irc.libera/#commons',
      ),
    ),
    [
      'test.yaml:12:9  bridges.two.endpoints[1]: endpoint "irc.libera/#commons" is already in bridge "one" (line 8): an endpoint can be in one bridge only, or posts would leak across bridges',
    ],
  );
});

test('IRC channels compare without case; other targets exactly', async () => {
  assert.deepEqual(
    await errors(
      Y(
        ...ACCOUNTS,
        'bridges:',
        '  one:',
        '    endpoints:',
        '      - irc.libera/#Commons',
        '      - irc.libera/#COMMONS',
        '      - nntp.local/Group',
        '      - nntp.local/group',
      ),
    ),
    [
      'test.yaml:10:9  bridges.one.endpoints[1]: endpoint "irc.libera/#COMMONS" is listed twice in this bridge (first at line 9)',
    ],
  );
});

test('an invalid regular expression is an error at its item', async () => {
  assert.deepEqual(
    await errors(
      Y(
        ...ACCOUNTS,
        'bridges:',
        '  one:',
        '    endpoints: [irc.libera/#a]',
        '    ignore:',
        '      patterns: ["^ok", "(unclosed", "(?i)["]',
        '    replace:',
        '      - { pattern: "", with: x }',
      ),
    ),
    [
      'test.yaml:10:25  bridges.one.ignore.patterns[1]: "(unclosed" is not a valid regular expression: Unterminated group',
      'test.yaml:10:38  bridges.one.ignore.patterns[2]: "(?i)[" is not a valid regular expression: Unterminated character class',
      'test.yaml:12:20  bridges.one.replace[0].pattern: an empty pattern matches every line (expected a regular expression, e.g. "^!" or "(?i)spam")',
    ],
  );
});

test('several errors are reported at once, sorted by position', async () => {
  assert.deepEqual(
    await errors(
      Y(
        'bridges:',
        '  one:',
        '    endpoints: [irc.libera]',
        'accounts:',
        '  irc.libera:',
        '    host: h',
        '    nick: n',
        '    port: 0',
        'node:',
        '  maxHops: many',
        '  bogus: 1',
      ),
    ),
    [
      'test.yaml:3:17  bridges.one.endpoints[0]: endpoint "irc.libera" has no target: write account/target, e.g. irc.libera/#commons',
      'test.yaml:8:11  accounts.irc.libera.port: expected a whole number from 1 to 65535, got 0',
      'test.yaml:10:12  node.maxHops: expected a whole number from 1 to 100, got "many"',
      'test.yaml:11:3  node: unknown key "bogus" (expected one of hostname, data, maxHops, durability, database, failover)',
    ],
  );
});

test('formatConfigError: position, two spaces, path, message, expected', () => {
  const e = {
    file: 'file.yaml',
    line: 3,
    col: 5,
    path: 'accounts.irc.x.port',
    message: 'expected a whole number from 1 to 65535, got "abc"',
  };
  assert.equal(
    formatConfigError(e),
    'file.yaml:3:5  accounts.irc.x.port: expected a whole number from 1 to 65535, got "abc"',
  );
  assert.equal(
    formatConfigError({ ...e, message: 'unknown key "x"', expected: 'one of a, b' }),
    'file.yaml:3:5  accounts.irc.x.port: unknown key "x" (expected one of a, b)',
  );
  assert.equal(
    formatConfigError({ ...e, line: 0, col: 0 }),
    'file.yaml  accounts.irc.x.port: expected a whole number from 1 to 65535, got "abc"',
  );
  assert.equal(
    formatConfigError({ ...e, path: '' }),
    'file.yaml:3:5  expected a whole number from 1 to 65535, got "abc"',
  );
});

test("a plugin's validateTarget message surfaces at the endpoint", async () => {
  assert.deepEqual(await errors(Y(...ACCOUNTS, 'bridges:', '  one:', '    endpoints: [irc.libera/commons]')), [
    'test.yaml:8:17  bridges.one.endpoints[0]: endpoint "irc.libera/commons": an IRC target is a channel starting with "#", e.g. #commons',
  ]);
});

test('a duplicate key in a mapping is an error at the second', async () => {
  assert.deepEqual(await errors(Y('node:', '  maxHops: 3', '  maxHops: 4')), [
    'test.yaml:3:3  node: duplicate key "maxHops" (first at line 2): remove one, or merge them',
  ]);
});

test('endpoint keys: core keys checked, the rest by the plugin (or unknown)', async () => {
  assert.deepEqual(
    await errors(
      Y(
        ...ACCOUNTS,
        'bridges:',
        '  one:',
        '    endpoints:',
        '      - endpoint: irc.libera/#a',
        '        nickFormt: "<{nick}>"',
        '        directon: in',
        '      - endpoint: nntp.local/x',
        '        nickFormat: "<{nick}>"',
        '        shape: firehose',
        '        announceLines: 99',
      ),
    ),
    [
      'test.yaml:10:9  bridges.one.endpoints[0]: unknown key "nickFormt" (did you mean "nickFormat"?)',
      'test.yaml:11:9  bridges.one.endpoints[0]: unknown key "directon" (did you mean "direction"?)',
      'test.yaml:13:9  bridges.one.endpoints[1]: unknown key "nickFormat" (expected one of endpoint, direction, shape, prefix, announceLines; the nntp plugin takes no endpoint keys of its own)',
      'test.yaml:14:16  bridges.one.endpoints[1].shape: expected "stream", "digest", "command" or "announce", got "firehose"',
      'test.yaml:15:24  bridges.one.endpoints[1].announceLines: expected a whole number from 1 to 50, got 99',
    ],
  );
});

test('a bridge needs endpoints; bridge keys suggest a near miss', async () => {
  assert.deepEqual(
    await errors(Y(...ACCOUNTS, 'bridges:', '  one:', '    descripton: x', '  two:', '    endpoints: []', '  three:')),
    [
      'test.yaml:8:5  bridges.one: unknown key "descripton" (did you mean "description"?)',
      'test.yaml:8:5  bridges.one: bridge "one" has no endpoints (expected endpoints: a list of account/target, e.g. - irc.libera/#commons)',
      'test.yaml:10:16  bridges.two.endpoints: bridge "two" has no endpoints (expected endpoints: a list of account/target, e.g. - irc.libera/#commons)',
      'test.yaml:11:3  bridges.three: bridge "three" has no endpoints (expected endpoints: a list of account/target, e.g. - irc.libera/#commons)',
    ],
  );
});

test('delivery: durations are checked, and retry.max is not below retry.first', async () => {
  assert.deepEqual(await errors(Y('delivery:', '  timeout: soon')), [
    'test.yaml:2:12  delivery.timeout: "soon" is not a duration (expected a number of seconds or e.g. 500ms, 30s, 10m, 2h, 7d)',
  ]);
  assert.deepEqual(await errors(Y('delivery:', '  retry: { first: 1m, max: 10s }')), [
    'test.yaml:2:28  delivery.retry.max: must not be shorter than delivery.retry.first',
  ]);
  assert.deepEqual(await errors(Y('node:', '  hostname: my host', '  durability: powr')), [
    'test.yaml:2:13  node.hostname: expected a hostname (letters, digits, dots and hyphens, e.g. lists.example.org), got "my host"',
    'test.yaml:3:15  node.durability: expected "process" or "power", got "powr" (did you mean "power"?)',
  ]);
});

test('loadConfigFile: reads a file; an unreadable one is one error without a position', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peerpost-config-'));
  try {
    const file = join(dir, 'peerpost.yaml');
    writeFileSync(file, Y('node:', '  hostname: example.org'));
    const r = await loadConfigFile(file, { lookup: fakeLookup().lookup, env: {}, cwd: dir });
    assert.ok(r.ok);
    assert.equal(r.config.file, file);
    assert.equal(r.config.node.data, join(dir, 'data'));

    const missing = join(dir, 'nope.yaml');
    const bad = await loadConfigFile(missing, { lookup: fakeLookup().lookup });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.errors.map(formatConfigError), [
      `${missing}  cannot read the config file: there is no such file`,
    ]);
    assert.equal(bad.errors[0]!.line, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the comment trap hint names an endpoint the plugin accepts, for every shipped protocol', async () => {
  // `- nntp.local #peerpost.commons`: a newsgroup takes no "#", so the hint must not put one back.
  const accounts = [
    'accounts:',
    '  irc.x: { host: irc.example.org, nick: bot }',
    '  nntp.local: {}',
    '  mail.lists: {}',
    '  finger.local: {}',
    '  web.local: {}',
  ];
  const trapped = [
    ['nntp.local', 'peerpost.commons', 'nntp.local/peerpost.commons'],
    ['irc.x', 'chan', 'irc.x/#chan'],
    ['irc.x', '#chan', 'irc.x/##chan'],
    ['mail.lists', 'commons', 'mail.lists/commons'],
    ['finger.local', 'commons', 'finger.local/commons'],
    ['web.local', 'commons', 'web.local/commons'],
  ] as const;
  const real = (text: string) => parseConfig(text, 'test.yaml', { lookup: lookupPlugin, env: {}, cwd: CWD });
  for (const [account, word, meant] of trapped) {
    const r = await real(Y(...accounts, 'bridges:', '  commons:', '    endpoints:', `      - ${account} #${word}`));
    assert.equal(r.ok, false);
    const message = (r as { errors: { message: string }[] }).errors.map((e) => e.message).join('\n');
    const hint = /read as a YAML comment: write (\S+)\)/.exec(message)?.[1];
    assert.equal(hint, meant, message);
    // What the hint says to write is accepted as it stands.
    const fixed = await real(Y(...accounts, 'bridges:', '  commons:', '    endpoints:', `      - ${hint}`));
    assert.deepEqual(fixed.ok ? [] : fixed.errors.map(formatConfigError), [], `${hint} is refused`);
  }
  // Inside a flow list too.
  const r = await real(Y(...accounts, 'bridges:', '  commons:', '    endpoints: [nntp.local #peerpost.commons]'));
  assert.match(
    (r as { errors: { message: string }[] }).errors[0]!.message,
    /line 9: " #peerpost.commons" after a space was read as a YAML comment, with the rest of the line: write nntp.local\/peerpost.commons\)$/,
  );
  // A word no target of the account can be: no endpoint is suggested that would be refused.
  const bad = await real(Y(...accounts, 'bridges:', '  commons:', '    endpoints:', '      - nntp.local #Big.Group!'));
  assert.match(
    (bad as { errors: { message: string }[] }).errors[0]!.message,
    /write nntp.local\/TARGET, with no space before the target \("Big.Group!" is not a target of nntp.local\)\)$/,
  );
});
