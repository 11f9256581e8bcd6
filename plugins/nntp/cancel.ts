/**
 * News cancels (RFC 5537 5.3) for posts removed from the archive, and Cancel-Lock (RFC 8315).
 *
 * Every article a peering account sends carries `Cancel-Lock: sha256:LOCK`, where the key is
 * K = base64(HMAC-SHA256(node secret "nntp.cancel-lock", "<message-id>")) and LOCK = base64(SHA-256(K)): only this
 * node can make the key, so only it can cancel its articles where the news server checks locks (INN with
 * libcanlock); a server that does not check them takes the cancel from its poster as usual.
 *
 * sendCancels: a removed post this account had sent out gets a cancel control article `Control: cancel <id>` with
 * `Cancel-Key: sha256:K`, posted to the same group; the cancels wait in the account's store until the server takes
 * them, so a stopped daemon or a server down loses none.
 *
 * acceptCancels: a cancel control article read from the peer (in a polled group or in control.cancel) is honoured
 * when its injecting host (the last Path element before not-for-mail) is in the list ("*": any), and, when the
 * cancelled article carried a Cancel-Lock here, only with a Cancel-Key that opens it. Honoured = removed as by
 * `peerpost remove`, cause "cancel", its tombstone keeping it out.
 */
import { createHash, createHmac } from 'node:crypto';

export const cancelKey = (secret: Buffer, id: string) =>
  createHmac('sha256', secret).update(`<${id}>`).digest('base64');
export const cancelLock = (key: string) => createHash('sha256').update(key).digest('base64');

/** Does one of the Cancel-Key header's keys open one of the Cancel-Lock header's locks (RFC 8315 section 4)? */
export function keyOpens(cancelKeyHeader: string, cancelLockHeader: string): boolean {
  const locks = new Set(
    cancelLockHeader
      .split(/\s+/)
      .map((l) => /^sha256:(\S+)$/i.exec(l)?.[1])
      .filter((l): l is string => l !== undefined),
  );
  return cancelKeyHeader
    .split(/\s+/)
    .map((k) => /^sha256:(\S+)$/i.exec(k)?.[1])
    .some((k) => k !== undefined && locks.has(cancelLock(k)));
}

/** The cancel control article for a post of ours, as posted to the news server. */
export function cancelArticle(o: { id: string; group: string; hostname: string; key: string; reason: string }): string {
  const headers = [
    `From: peerpost <news@${o.hostname}>`,
    `Newsgroups: ${o.group}`,
    `Subject: cmsg cancel <${o.id}>`,
    `Control: cancel <${o.id}>`,
    `Message-ID: <cancel.${createHash('sha256').update(o.id).digest('hex').slice(0, 24)}@${o.hostname}>`,
    `Date: ${new Date().toUTCString()}`,
    `Cancel-Key: sha256:${o.key}`,
    `Approved: news@${o.hostname}`,
  ];
  return `${headers.join('\r\n')}\r\n\r\nThis article was removed from its archive at ${o.hostname}: ${o.reason.replace(/[\r\n]+/g, ' ').slice(0, 200)}\r\n`;
}

/** The Message-ID a `Control: cancel <id>` header names, or undefined. */
export function cancelTarget(control: string | undefined): string | undefined {
  const m = /^\s*cancel\s+<([^<>\s]+)>\s*$/i.exec(control ?? '');
  return m?.[1];
}

/**
 * The host that injected an article (RFC 5537 3.2.1): the element left of the `.POSTED` diagnostic when there is
 * one (INN writes `pathhost!.POSTED.client!not-for-mail`), else the last host before the tail entry.
 */
export function injectingHost(path: readonly string[]): string | undefined {
  const p = path.filter((x) => x !== '');
  const posted = p.findIndex((x) => /^\.posted(\.|$)/i.test(x));
  if (posted > 0) return p[posted - 1]!.toLowerCase();
  const hosts = p.filter((x) => !x.startsWith('.'));
  if (hosts.length === 0) return undefined;
  const last = hosts[hosts.length - 1]!.toLowerCase();
  return last === 'not-for-mail' ? hosts[hosts.length - 2]?.toLowerCase() : last;
}
