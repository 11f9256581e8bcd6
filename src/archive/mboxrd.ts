/**
 * mboxrd: messages one after another in one file, each after a "From " line (its envelope sender and the date in
 * asctime form) and followed by a blank line; a line of a message that starts with any number of ">" and then
 * "From " gets one more ">", so a reader tells them from the separator and takes the ">" off again (the mboxrd
 * rule: reversible, unlike mboxo's). Lines end in "\n" (the file is a Unix mailbox, not a message on the wire).
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** asctime(3) in UTC: "Fri Dec  5 03:22:05 2026" (the day of the month padded with a space). */
export function asctime(d: Date): string {
  const t = Number.isNaN(d.getTime()) ? new Date(0) : d;
  return `${DAYS[t.getUTCDay()]} ${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} ${t.getUTCFullYear()}`;
}

/** The separator line (without its "\n"): "From SENDER DATE"; a sender that is not one plain word is MAILER-DAEMON. */
export function fromLine(sender: string | undefined, date: Date): string {
  const who = sender && /^[\x21-\x7e]+$/.test(sender) ? sender : 'MAILER-DAEMON';
  return `From ${who} ${asctime(date)}`;
}

/** mboxrd quoting of a message whose lines end in "\n": every line matching ^>*From  gets one more ">". */
export function quoteFrom(text: string): string {
  return text.replace(/^(>*From )/gm, '>$1');
}

/** The reverse of quoteFrom, as a reader of mboxrd does it. */
export function unquoteFrom(text: string): string {
  return text.replace(/^>(>*From )/gm, '$1');
}

/**
 * One mbox entry: the separator line, the message with CRLF (and lone CR) turned into "\n" and quoted, a final
 * "\n" when the message lacks one, and the blank line that ends the entry.
 */
export function mboxrdEntry(separator: string, message: string): string {
  const text = quoteFrom(message.replace(/\r\n?/g, '\n'));
  return `${separator}\n${text}${text.endsWith('\n') ? '' : '\n'}\n`;
}

/** Split an mboxrd text into its messages (unquoted, "\n" line ends, without the separator and the final blank line). */
export function readMboxrd(text: string): string[] {
  const out: string[] = [];
  const starts = [...text.matchAll(/^From [^\n]*\n/gm)];
  starts.forEach((m, i) => {
    const from = m.index + m[0].length;
    const to = i + 1 < starts.length ? starts[i + 1]!.index : text.length;
    let msg = text.slice(from, to);
    if (msg.endsWith('\n\n')) msg = msg.slice(0, -1);
    out.push(unquoteFrom(msg));
  });
  return out;
}
