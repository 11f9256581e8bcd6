import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedBenchBin } from '../../bench/irc-pace.js';

test('irc-pace finds the team matterbridge beside a checkout and beside a worktree’s parents', () => {
  const root = mkdtempSync(join(tmpdir(), 'pp-shared-'));
  try {
    const bin = join(root, 'shared', 'bench', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'matterbridge.xz'), '');
    mkdirSync(join(root, 'main'));
    mkdirSync(join(root, 'wt', 'irc18'), { recursive: true });
    assert.equal(sharedBenchBin(join(root, 'main')), bin);
    assert.equal(sharedBenchBin(join(root, 'wt', 'irc18')), bin);
    // Nowhere: the place beside the checkout, named in the bench's message.
    rmSync(join(bin, 'matterbridge.xz'));
    assert.equal(sharedBenchBin(join(root, 'wt', 'irc18')), join(root, 'wt', 'shared', 'bench', 'bin'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
