/**
 * JSON.parse for traffic lines, except that an integer too large for a JavaScript number to hold
 * exactly (past 2^53, such as a 19-digit card number) is read as its decimal digits, a string:
 * JSON.parse would round it to another number, which no check (Luhn, equality) could then
 * recognise. Every other value parses as JSON.parse parses it.
 */
export function parseTrafficJson(text: string): unknown {
  return hasDigitRun(text, SAFE_DIGITS + 1) ? JSON.parse(quoteUnsafeIntegers(text)) : JSON.parse(text)
}

/** Every integer of at most this many digits is safe; sixteen can exceed Number.MAX_SAFE_INTEGER (9007199254740991). */
const SAFE_DIGITS = 15

/**
 * Whether `text` holds `n` ASCII digits in a row (what `/\d{n}/` tests), looking at one character in
 * `n`: any run of `n` digits covers exactly one index of each residue mod `n`, so probing every
 * `n`-th index and measuring the run around a digit found is enough. After a shorter run the next
 * probe is `n` past its end, which still lands in any later run (it starts two or more past the end).
 */
export function hasDigitRun(text: string, n: number): boolean {
  const len = text.length
  for (let i = n - 1; i < len; i += n) {
    if (!isDigit(text.charCodeAt(i))) continue
    let lo = i
    let hi = i
    while (lo > 0 && isDigit(text.charCodeAt(lo - 1))) lo--
    while (hi + 1 < len && isDigit(text.charCodeAt(hi + 1))) hi++
    if (hi - lo + 1 >= n) return true
    i = hi
  }
  return false
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/**
 * `text` with each integer literal outside a string that is not a safe integer put in quotes.
 * One pass that tracks whether it is inside a string; malformed JSON is left for JSON.parse to
 * reject (the quotes added cannot make a malformed text valid, nor move where it is malformed).
 */
function quoteUnsafeIntegers(text: string): string {
  let out = ''
  let copied = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) {
      inString = true
      continue
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue
    // A number literal: its end, and whether it is an integer (no fraction or exponent).
    let end = i + 1
    while (end < text.length && isNumberChar(text.charCodeAt(end))) end++
    const literal = text.slice(i, end)
    if (/^-?\d{16,}$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
      out += `${text.slice(copied, i)}"${literal}"`
      copied = end
    }
    i = end - 1
  }
  return copied === 0 ? text : out + text.slice(copied)
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d
}
