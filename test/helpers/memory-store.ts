/**
 * A plugin's slice of a real store in memory (the same code as ctx.store), for
 * unit tests of a plugin's own tables. No files, no sockets.
 */
import { Store } from '../../src/store.js';
import { pluginStoreFor } from '../../src/runtime/accounts.js';
import type { PluginStore } from '../../src/plugin.js';

export function memoryPluginStore(protocol: string, account = `${protocol}.test`): PluginStore {
  return pluginStoreFor(Store.open(':memory:'), account, protocol);
}
