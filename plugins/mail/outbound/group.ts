/** Recipients grouped into SMTP transactions: by domain, at most `max` each. */

/** The domain part of an address, lower-cased ("" when there is none). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/**
 * Batches of at most `max` items, each batch from one domain, domains in order of
 * first appearance; a domain's remainder is never merged with another domain.
 */
export function groupByDomain<T>(items: readonly T[], max: number, addressOf: (t: T) => string): T[][] {
  const size = Math.max(1, Math.floor(max));
  const byDomain = new Map<string, T[]>();
  for (const it of items) {
    const d = domainOf(addressOf(it));
    let list = byDomain.get(d);
    if (!list) byDomain.set(d, (list = []));
    list.push(it);
  }
  const batches: T[][] = [];
  for (const list of byDomain.values())
    for (let i = 0; i < list.length; i += size) batches.push(list.slice(i, i + size));
  return batches;
}
