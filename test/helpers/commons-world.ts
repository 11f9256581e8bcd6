/**
 * The world of the archive tests (import, export): one bridge, commons, whose only endpoint is a test sink
 * (sink.a/one), its store made by a first start of the daemon, as an operator has it before importing.
 */
import type { TestContext } from 'node:test';
import { world, runOnce, type World } from './daemon.js';

/** A new world with bridge commons and its store (the daemon started once and stopped), removed after the test. */
export async function commonsWorld(t: TestContext): Promise<World> {
  const w = world();
  t.after(() => w.cleanup());
  w.writeConfig(`
accounts:
  sink.a: { file: ${w.sink('a')} }
bridges:
  commons:
    endpoints: [sink.a/one]
`);
  await runOnce(w.config);
  return w;
}
