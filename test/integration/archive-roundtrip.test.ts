/**
 * The archive carried out and back in, as a user does it: an mbox written by Python's `mailbox` module (Debian's
 * /usr/bin/python3; a writer nobody here wrote) goes through `peerpost import`, comes out of `peerpost export`, and
 * Python reads both files and compares them message by message. Then a removed post meeting its own import again
 * (with the daemon stopped, and through a running daemon's control socket), and what --mboxo changes for the
 * "From " lines of a body Python wrote.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePeer } from '../peers/require.js';
import { cli, startDaemon, type World } from '../helpers/daemon.js';
import { commonsWorld } from '../helpers/commons-world.js';

before(() => requirePeer('python3'));

const python = (script: string, ...args: string[]) =>
  execFileSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });

/**
 * The messages, written as a list keeps them. mailbox.mbox.add() of an EmailMessage writes the headers unfolded
 * (its generator has maxheaderlen=0) and quotes a body line "From " as ">From " (mboxo); the message with the long
 * References and Subject is given to add() as the bytes email.policy.default makes of it, which folds them at 78.
 */
const WRITE = `
import mailbox, email.message, email.policy, sys
box = mailbox.mbox(sys.argv[1])
def msg(body, **h):
    m = email.message.EmailMessage()
    for k, v in h.items():
        m[k.replace('_', '-')] = v
    m.set_content(body)
    return m
box.add(msg('Just text.\\nTwo lines.\\n', From='Alice Example <alice@example.org>', To='commons@lists.example.org',
            Subject='Plain ASCII subject', Date='Mon, 02 Jan 2023 10:00:00 +0000', Message_ID='<plain@example.org>'))
box.add(msg('Subject in encoded words.\\n', From='Bob <bob@example.org>', Subject='Grüße aus Köln — ein Betreff',
            Date='Mon, 02 Jan 2023 11:00:00 +0000', Message_ID='<utf8subj@example.org>'))
box.add(msg('Grüße, Jürgen\\n', From='Jürgen Müller <juergen@example.org>', Subject='Name in From',
            Date='Mon, 02 Jan 2023 12:00:00 +0000', Message_ID='<utf8name@example.org>'))
box.add(msg('first\\n', From='Alice Example <alice@example.org>', Subject='Thread start',
            Date='Tue, 03 Jan 2023 09:00:00 +0000', Message_ID='<t1@example.org>'))
box.add(msg('second\\n', From='Bob <bob@example.org>', Subject='Re: Thread start', Date='Tue, 03 Jan 2023 09:10:00 +0000',
            Message_ID='<t2@example.org>', In_Reply_To='<t1@example.org>', References='<t1@example.org>'))
box.add(msg('third\\n', From='"Carol, the third" <carol@example.org>', Subject='Re: Thread start',
            Date='Tue, 03 Jan 2023 09:20:00 +0000', Message_ID='<t3@example.org>', In_Reply_To='<t2@example.org>',
            References='<t1@example.org> <t2@example.org>'))
box.add(msg('Hello,\\nFrom now on this line starts with From.\\nbye\\n', From='Dave <dave@example.org>',
            Subject='Quoting', Date='Wed, 04 Jan 2023 08:00:00 +0000', Message_ID='<fromline@example.org>'))
refs = [f'<r{i}.{"x" * 20}@archive.example.org>' for i in range(6)]
box.add(msg('deep in a thread\\n', From='Eve <eve@example.org>',
            Subject='Long references, and a subject long enough that Python folds it after the 78th column',
            Date='Wed, 04 Jan 2023 09:00:00 +0000', Message_ID='<longrefs@example.org>', In_Reply_To=refs[-1],
            References=' '.join(refs)).as_bytes(policy=email.policy.default))
box.add(msg('sent from India\\n', From='Frank <frank@example.org>', Subject='Offset date',
            Date='Thu, 05 Jan 2023 14:30:00 +0530', Message_ID='<offset@example.org>'))
box.close()
`;

const HEADERS = ['Message-ID', 'In-Reply-To', 'References', 'Date', 'Subject', 'From'] as const;
type Header = (typeof HEADERS)[number];

interface Read {
  /** The header as it stands in the file (folds kept), or null when the message has none. */
  raw: Record<Header, string | null>;
  /** Decoded as a reader shows it: email.header for Subject and From's name, email.utils for From and Date. */
  decoded: {
    id: string;
    inReplyTo: string | null;
    references: string[];
    date: number;
    subject: string;
    from: [string, string];
  };
  body: string;
}

/**
 * Read an mbox with Python's mailbox (compat32 messages: a header's value is the raw text, folds and encoded words
 * as written) into { Message-ID: Read }. Python's reader leaves the quoting of "From " lines alone; the body is
 * unquoted here by the variant's rule: mboxo (what Python wrote) one ">" off ">From ", mboxrd (what peerpost
 * writes) one ">" off every ">…>From ".
 */
const READ = `
import mailbox, json, re, sys, email.header, email.utils
path, variant = sys.argv[1], sys.argv[2]
unquote = (lambda s: re.sub(r'(?m)^>(>*From )', r'\\1', s)) if variant == 'mboxrd' else (lambda s: re.sub(r'(?m)^>(From )', r'\\1', s))
names = ${JSON.stringify(HEADERS)}
out = {}
for m in mailbox.mbox(path):
    raw = {n: m.get(n) for n in names}
    one = {n: (v.replace('\\r', '').replace('\\n', '') if v is not None else None) for n, v in raw.items()}
    text = lambda v: str(email.header.make_header(email.header.decode_header(v)))
    name, addr = email.utils.parseaddr(text(one['From']))
    out[one['Message-ID']] = {
        'raw': raw,
        'decoded': {
            'id': one['Message-ID'],
            'inReplyTo': one['In-Reply-To'],
            'references': (one['References'] or '').split(),
            'date': email.utils.parsedate_to_datetime(one['Date']).timestamp(),
            'subject': text(one['Subject']),
            'from': [name, addr],
        },
        'body': unquote(m.get_payload(decode=True).decode('utf-8')),
    }
print(json.dumps(out))
`;

const read = (path: string, variant: 'mboxo' | 'mboxrd') =>
  JSON.parse(python(READ, path, variant)) as Record<string, Read>;

interface Counts {
  read: number;
  imported: number;
  duplicate: number;
  refused: Record<string, number>;
  unparsable: unknown[];
}

async function importJson(w: World, ...args: string[]): Promise<Counts> {
  const r = await cli(['import', '-c', w.config, '-b', 'commons', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Counts;
}

async function exported(w: World, name: string): Promise<string> {
  const file = join(w.dir, name);
  const r = await cli(['export', '-c', w.config, '-b', 'commons', '-o', file]);
  assert.equal(r.code, 0, r.stderr);
  return file;
}

/**
 * What peerpost writes differently from Python, by design: the store keeps the post, not its bytes, so the header
 * is written again from the decoded value (README, "Exporting the archive"):
 *   - Subject and a From's display name that are not ASCII: Python writes encoded words its own way (Q encoding,
 *     or B for a part of the text, lower-case "utf-8"); peerpost encodes the whole text as UTF-8 B words.
 *   - Date: kept as an instant; written in UTC (+0000), so a +0530 date is the same time written another way.
 * Every other compared header is written byte for byte as Python wrote it — Message-ID, In-Reply-To, References
 * (Python's fold at 78 included: peerpost folds at the same places), an ASCII Subject, an ASCII From (a quoted
 * display name too), a +0000 Date.
 */
const NORMALISED: Record<string, Partial<Record<Header, string>>> = {
  '<utf8subj@example.org>': { Subject: '=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4g4oCUIGVpbiBCZXRyZWZm?=' },
  '<utf8name@example.org>': { From: '=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.org>' },
  '<offset@example.org>': { Date: 'Thu, 05 Jan 2023 09:00:00 +0000' },
};

test('an mbox written by Python comes back out of export with the same headers (raw or decoded) and bodies; importing the export adds nothing', async (t) => {
  const w = await commonsWorld(t);
  const mbox = join(w.dir, 'list.mbox');
  python(WRITE, mbox);
  const written = readFileSync(mbox, 'utf8');
  assert.match(written, /\n>From now on/, 'Python quoted the body line (mboxo)');
  assert.match(written, /\nReferences: <r0\.x+@archive\.example\.org>\n <r1\./, 'Python folded References');
  assert.match(written, /\nSubject: =\?utf-8\?/, 'Python encoded the subject');

  const first = await importJson(w, '--mboxo', mbox);
  assert.deepEqual([first.read, first.imported, first.duplicate, first.unparsable], [9, 9, 0, []]);
  const out = await exported(w, 'out.mbox');

  const before = read(mbox, 'mboxo');
  const after = read(out, 'mboxrd');
  assert.deepEqual(Object.keys(after), Object.keys(before), 'every message, in the order written');
  assert.equal(Object.keys(before).length, 9);
  for (const [id, b] of Object.entries(before)) {
    const a = after[id]!;
    assert.deepEqual(a.decoded, b.decoded, `${id}: decoded headers`);
    assert.equal(a.body, b.body, `${id}: body`);
    for (const h of HEADERS) {
      const normalised = NORMALISED[id]?.[h];
      if (normalised === undefined) assert.equal(a.raw[h], b.raw[h], `${id}: ${h} byte for byte`);
      else {
        assert.notEqual(b.raw[h], normalised, `${id}: Python wrote ${h} otherwise`);
        assert.equal(a.raw[h], normalised, `${id}: ${h} as peerpost writes it`);
      }
    }
  }
  // Not vacuous: the cases are there and came through.
  assert.equal(after['<fromline@example.org>']!.body, 'Hello,\nFrom now on this line starts with From.\nbye\n');
  assert.equal(after['<utf8subj@example.org>']!.decoded.subject, 'Grüße aus Köln — ein Betreff');
  assert.deepEqual(after['<utf8name@example.org>']!.decoded.from, ['Jürgen Müller', 'juergen@example.org']);
  assert.equal(after['<utf8name@example.org>']!.body, 'Grüße, Jürgen\n');
  assert.deepEqual(after['<t3@example.org>']!.decoded.references, ['<t1@example.org>', '<t2@example.org>']);
  assert.equal(after['<t3@example.org>']!.raw.From, '"Carol, the third" <carol@example.org>');
  assert.match(after['<longrefs@example.org>']!.raw.References!, /^(<r\d\.x+@archive\.example\.org>\n ){5}<r5\./);
  assert.match(after['<longrefs@example.org>']!.raw.Subject!, /^Long references, .*\n \S/);
  assert.equal(after['<offset@example.org>']!.decoded.date, Date.UTC(2023, 0, 5, 9, 0) / 1000);

  const again = await importJson(w, out);
  assert.deepEqual(
    [again.read, again.imported, again.duplicate, again.refused, again.unparsable],
    [9, 0, 9, {}, []],
    'the export imported again: all already there',
  );
  const text = await cli(['import', '-c', w.config, '-b', 'commons', out]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^0 messages imported into bridge commons, 9 already there, 0 unreadable/);
});

const THREE = `
import mailbox, email.message, sys
box = mailbox.mbox(sys.argv[1])
for n, subject in (('good1', 'Gardening'), ('spam1', 'Cheap watches'), ('good2', 'Re: Gardening')):
    m = email.message.EmailMessage()
    m['From'] = f'{n} <{n}@example.org>'
    m['Subject'] = subject
    m['Date'] = 'Mon, 02 Jan 2023 10:00:00 +0000'
    m['Message-ID'] = f'<{n}@example.org>'
    m.set_content(f'text of {n}\\n')
    box.add(m)
box.close()
`;

const ids = (file: string) => Object.keys(read(file, 'mboxrd'));

test('a removed post imported again is refused (counted as removed), the others are already there, the export leaves it out; also through a running daemon', async (t) => {
  const w = await commonsWorld(t);
  const mbox = join(w.dir, 'list.mbox');
  python(THREE, mbox);
  assert.equal((await importJson(w, mbox)).imported, 3);

  // The daemon is stopped: remove works on the store.
  const rm = await cli(['remove', '-c', w.config, '<spam1@example.org>', '--reason', 'spam']);
  assert.equal(rm.code, 0, rm.stderr);
  const again = await importJson(w, mbox);
  assert.deepEqual(
    [again.read, again.imported, again.duplicate, again.refused],
    [3, 0, 2, { removed: 1 }],
    'the tombstone refuses it; the others are already there',
  );
  const text = await cli(['import', '-c', w.config, '-b', 'commons', mbox]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /0 messages imported into bridge commons, 2 already there, 1 refused \(removed: 1\)/);
  assert.deepEqual(ids(await exported(w, 'stopped.mbox')), ['<good1@example.org>', '<good2@example.org>']);

  // The daemon runs: the import goes through its control socket, and its core refuses it just the same.
  const d = await startDaemon(w.config);
  t.after(() => d.stop('SIGTERM'));
  const via = await cli(['import', '-c', w.config, '-b', 'commons', '--verbose', '--json', mbox]);
  assert.equal(via.code, 0, via.stderr);
  assert.match(via.stderr, /importing into bridge commons through the running daemon/);
  const counts = JSON.parse(via.stdout) as Counts;
  assert.deepEqual([counts.imported, counts.duplicate, counts.refused], [0, 2, { removed: 1 }]);

  // A removal made through the daemon: the next import refuses that one too.
  const rm2 = await cli(['remove', '-c', w.config, 'good2@example.org', '--reason', 'asked to forget']);
  assert.equal(rm2.code, 0, rm2.stderr);
  const third = await importJson(w, mbox);
  assert.deepEqual([third.imported, third.duplicate, third.refused], [0, 1, { removed: 2 }]);
  assert.deepEqual(ids(await exported(w, 'running.mbox')), ['<good1@example.org>']);
  assert.deepEqual(w.delivered('a'), [], 'nothing imported was delivered');
});

/**
 * Python writes mboxo: a body line "From " becomes ">From ", and ">From " or ">>From " lines are left as they are,
 * so a ">From b" line cannot be told from a quoted "From b" (lost either way: unquoted to "From b"). What the
 * reader is told decides the deeper lines: --mboxo keeps ">>From c" as written, the default (mboxrd) takes a ">"
 * off it. (test/unit/archive-import.test.ts covers the reader on a file written by hand; this is the CLI on a file
 * Python wrote.)
 */
test('--mboxo on an mbox from Python keeps ">>From " lines as written; the default mboxrd reading takes one ">" off', async (t) => {
  const w = await commonsWorld(t);
  const write = (id: string) =>
    python(
      `import mailbox, email.message, sys
box = mailbox.mbox(sys.argv[1])
m = email.message.EmailMessage()
m['From'] = 'x@example.org'
m['Message-ID'] = '<${id}@example.org>'
m.set_content('From a\\n>From b\\n>>From c\\n')
box.add(m)
box.close()`,
      join(w.dir, `${id}.mbox`),
    );
  write('o');
  write('rd');
  assert.match(readFileSync(join(w.dir, 'o.mbox'), 'utf8'), /\n\n>From a\n>From b\n>>From c\n/);
  assert.equal((await importJson(w, '--mboxo', join(w.dir, 'o.mbox'))).imported, 1);
  assert.equal((await importJson(w, join(w.dir, 'rd.mbox'))).imported, 1);
  const got = read(await exported(w, 'out.mbox'), 'mboxrd');
  assert.equal(got['<o@example.org>']!.body, 'From a\nFrom b\n>>From c\n', '--mboxo');
  assert.equal(got['<rd@example.org>']!.body, 'From a\nFrom b\n>From c\n', 'mboxrd');
});
