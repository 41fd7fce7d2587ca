/**
 * One word for /bin/sh: as it is when it holds only characters the shell never interprets, else in single quotes.
 * Every spec value that reaches a command line goes through this, whatever the schema already refuses.
 */
export function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** A command line of words, each one quoted. */
export function shellLine(words: readonly string[]): string {
  return words.map(quote).join(' ');
}
