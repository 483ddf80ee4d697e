/**
 * The one function that makes text safe to print on a terminal. Recorded traffic, model answers,
 * tool results, bundle files and command-line arguments can hold bytes a terminal acts on rather
 * than shows: ESC and CSI sequences (screen clears, title changes, OSC 52 clipboard writes), BEL,
 * C1 controls (U+0080–U+009F, which some terminals take as 8-bit escapes) and Unicode bidi and line
 * controls that reorder or split what is shown. Every text that reaches a terminal passes through
 * `terminalText` first; `BaseCommand` applies it to everything a command prints, so a new command
 * is safe by default, and renderers that lay text out in columns apply it to each field first, so
 * the widths they compute are the widths shown.
 *
 * Invariants:
 * - The result holds no C0 control (but `\n` and `\t` where line breaks are kept), no DEL, no C1
 *   control and no bidi or line-separator control; ESC appears only as the start of an SGR colour
 *   sequence, and only where `sgr` is kept.
 * - Each such character is shown as an escape a reader can see: C0 as `\xNN`, DEL, C1 and the
 *   Unicode controls as `\uNNNN`. JSON.stringify never leaves a C0 control raw, and `\uNNNN` is a
 *   JSON escape of the same character, so on JSON text the result is still JSON, with the same value.
 * - Linear in the length of the text; text with nothing to escape is returned as is.
 */

/** C0 (without \t and \n), DEL, C1, ALM, LRM/RLM, LS/PS, LRE..RLO (U+202A–U+202E), LRI..PDI (U+2066–U+2069). */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g')
const UNSAFE_OR_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/
const UNSAFE_OR_LINE_ALL = new RegExp(UNSAFE_OR_LINE.source, 'g')
/** An SGR (colour) sequence: ESC [ digits and semicolons m. It moves nothing and writes nothing. */
const SGR = /^\u001b\[[0-9;]{0,32}m/

export type TerminalTextOptions = {
  /** Keep `\n` and `\t` (multi-line output); otherwise they are escaped too, so a field stays on one line. */
  lineBreaks?: boolean
  /** Keep SGR colour sequences: only for output whose colour the program painted and whose data it already escaped. */
  sgr?: boolean
}

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  return code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

export function terminalText(s: string, opts: TerminalTextOptions = {}): string {
  const test = opts.lineBreaks ? UNSAFE : UNSAFE_OR_LINE
  if (!test.test(s)) return s
  const all = opts.lineBreaks ? UNSAFE_ALL : UNSAFE_OR_LINE_ALL
  if (!opts.sgr) return s.replace(all, escapeChar)
  // Keep each SGR sequence whole; escape everything else, another ESC included.
  all.lastIndex = 0
  let out = ''
  let from = 0
  for (let m = all.exec(s); m !== null; m = all.exec(s)) {
    const at = m.index
    if (s.charCodeAt(at) === 0x1b) {
      const sgr = SGR.exec(s.slice(at, at + 36))
      if (sgr) {
        all.lastIndex = at + sgr[0].length
        continue
      }
    }
    out += s.slice(from, at) + escapeChar(m[0])
    from = at + 1
  }
  return out + s.slice(from)
}
