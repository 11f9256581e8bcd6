/**
 * VERP (variable envelope return path): the envelope sender of a message to
 * alice@example.org is commons-bounces+alice=example.org@lists.example.org, so
 * a bounce names the recipient whatever the bounce's own format.
 */

/** The envelope sender for one recipient: LIST-bounces+alice=example.org@domain. */
export function verpEncode(listAddress: string, recipient: string): string {
  const at = listAddress.lastIndexOf('@');
  const rat = recipient.lastIndexOf('@');
  return `${listAddress.slice(0, at)}-bounces+${recipient.slice(0, rat)}=${recipient.slice(rat + 1)}@${listAddress.slice(at + 1)}`;
}

/**
 * "commons-bounces+alice=example.org" → "alice@example.org" (for list "commons");
 * undefined when the local part is not a VERP bounce address of this list.
 * The recipient's domain is after the LAST "=", so a local part with "=" in it decodes right.
 */
export function verpDecode(localPart: string, list: string): string | undefined {
  const prefix = `${list}-bounces+`;
  if (localPart.length <= prefix.length || localPart.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase())
    return undefined;
  const rest = localPart.slice(prefix.length);
  const eq = rest.lastIndexOf('=');
  if (eq <= 0 || eq === rest.length - 1) return undefined;
  const local = rest.slice(0, eq);
  const domain = rest.slice(eq + 1);
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(domain)) return undefined;
  if (/[\s<>@\u0000-\u001f\u007f]/.test(local)) return undefined;
  return `${local}@${domain}`;
}
