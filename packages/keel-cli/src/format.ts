/** Numbers as the command prints them. */

/** A count with thousands separators, en-US style whatever the machine's locale: 70,000. */
export function count(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 20 });
}
