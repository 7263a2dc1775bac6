/**
 * Shell quoting for every remote script kboot builds. Spec values reach a shell only through
 * `quote`, so a value is always one word whatever characters the schema let through.
 */

/** Quotes one value as a single POSIX shell word. */
export function quote(value: string | number): string {
  const text = String(value);
  if (/^[A-Za-z0-9_.\/:=@%+,-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Joins a command and its arguments, each quoted. */
export function command(...argv: Array<string | number>): string {
  return argv.map(quote).join(' ');
}

/** A here-document body delimiter that cannot occur inside `content`. */
export function heredocDelimiter(content: string): string {
  let delimiter = 'KBOOT_EOF';
  for (let i = 1; content.split('\n').includes(delimiter); i++) delimiter = `KBOOT_EOF_${i}`;
  return delimiter;
}
