/**
 * Who may post to a list (issue 4, "Posting policy"), and which mail must never
 * become a post at all.
 *
 *   members    subscribers and owners post; anyone else is held for the owners (the default)
 *   open       anyone posts
 *   moderated  owners post; everyone else is held
 *   announce   owners only; anyone else is refused
 */
export const POLICIES = ['members', 'open', 'moderated', 'announce'] as const;
export type Policy = (typeof POLICIES)[number];

export type Decision = { action: 'post' } | { action: 'hold'; reason: string } | { action: 'refuse'; reason: string };

export function decide(
  policy: Policy,
  who: { member: boolean; owner: boolean; address: string },
  list: string,
): Decision {
  if (who.owner) return { action: 'post' };
  switch (policy) {
    case 'open':
      return { action: 'post' };
    case 'members':
      return who.member
        ? { action: 'post' }
        : { action: 'hold', reason: `${who.address} is not subscribed to ${list}` };
    case 'moderated':
      return { action: 'hold', reason: `${list} is moderated: every post waits for an owner` };
    case 'announce':
      return { action: 'refuse', reason: `only the owners of ${list} post to it (it is an announce list)` };
  }
}

/**
 * Why this mail must not become a post (a loop or a robot), or undefined.
 * `listId` is this list's List-Id, `listAddress` its posting address.
 */
export function loopOrRobot(
  m: { listIds: string[]; xLoops: string[]; autoSubmitted: boolean; nodes?: string[] },
  listId: string,
  listAddress: string,
  hostname?: string,
): string | undefined {
  if (m.listIds.includes(listId.toLowerCase()))
    return `it carries this list's own List-Id <${listId}> (it came from this list)`;
  if (hostname && m.nodes?.includes(hostname.toLowerCase()))
    return `it carries X-Peerpost-Node: ${hostname} (this node wrote it)`;
  if (m.xLoops.includes(listAddress.toLowerCase())) return `it carries X-Loop: ${listAddress} (it came from this list)`;
  if (m.autoSubmitted)
    return 'it is automatic mail (Auto-Submitted or Precedence: bulk/junk), which is never posted or answered';
  return undefined;
}
