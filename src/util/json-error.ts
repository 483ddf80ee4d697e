/**
 * Where and why a JSON text is malformed. JSON.parse stays the fast path; this runs only after it
 * failed, because V8's messages do not always carry a position and never a column.
 */
export type JsonSyntaxError = {
  /** 0-based index into the string; equals text.length when the text ended early. */
  index: number
  /** 1-based column (UTF-16 code units, as editors count for most text). */
  column: number
  message: string
}

type Expect = 'value' | 'value_or_close' | 'key' | 'key_or_close' | 'colon' | 'after_value'

const WS = new Set([0x20, 0x09, 0x0a, 0x0d])
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't'])

/** Returns the first syntax error in `text`, or null if it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  const n = text.length
  // An explicit stack instead of recursion: a line of 100k '[' must not overflow the call stack.
  const stack: ('{' | '[')[] = []
  let expect: Expect = 'value'
  let i = 0

  const fail = (at: number, what: string): JsonSyntaxError => ({
    index: at,
    column: at + 1,
    message: at >= n ? `unexpected end of line (${what})` : `unexpected ${describeChar(text, at)} (${what})`,
  })

  for (;;) {
    while (i < n && WS.has(text.charCodeAt(i))) i++
    const top = stack[stack.length - 1]

    if (expect === 'after_value') {
      if (top === undefined) {
        if (i < n) return {index: i, column: i + 1, message: `unexpected ${describeChar(text, i)} after the JSON value`}
        return null
      }
      const close = top === '{' ? '}' : ']'
      if (i >= n) return fail(i, `expected ',' or '${close}'`)
      const c = text[i]
      if (c === ',') {
        expect = top === '{' ? 'key' : 'value'
        i++
      } else if (c === close) {
        stack.pop()
        i++
      } else {
        return fail(i, `expected ',' or '${close}'`)
      }
      continue
    }

    if (expect === 'colon') {
      if (text[i] !== ':') return fail(i, `expected ':' after the property name`)
      i++
      expect = 'value'
      continue
    }

    if (expect === 'key' || expect === 'key_or_close') {
      if (expect === 'key_or_close' && text[i] === '}') {
        stack.pop()
        i++
        expect = 'after_value'
        continue
      }
      if (text[i] !== '"') {
        return fail(i, expect === 'key' ? 'expected a property name in double quotes' : `expected a property name or '}'`)
      }
      const end = scanString(text, i)
      if (typeof end !== 'number') return end
      i = end
      expect = 'colon'
      continue
    }

    // expect is 'value' or 'value_or_close'
    if (i >= n) return fail(i, 'expected a value')
    const c = text[i]
    if (expect === 'value_or_close' && c === ']') {
      stack.pop()
      i++
      expect = 'after_value'
      continue
    }
    if (c === '{') {
      stack.push('{')
      i++
      expect = 'key_or_close'
      continue
    }
    if (c === '[') {
      stack.push('[')
      i++
      expect = 'value_or_close'
      continue
    }
    let end: number | JsonSyntaxError
    if (c === '"') end = scanString(text, i)
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) end = scanNumber(text, i)
    else if (c === 't' || c === 'f' || c === 'n') end = scanLiteral(text, i)
    else return fail(i, 'expected a value')
    if (typeof end !== 'number') return end
    i = end
    expect = 'after_value'
  }
}

/** Scans a string starting at the opening quote; returns the index after the closing quote. */
function scanString(text: string, start: number): number | JsonSyntaxError {
  const n = text.length
  let i = start + 1
  while (i < n) {
    const code = text.charCodeAt(i)
    if (code === 0x22) return i + 1
    if (code < 0x20) {
      return {index: i, column: i + 1, message: `control character ${codePoint(code)} in a string (must be escaped)`}
    }
    if (code === 0x5c) {
      const e = text[i + 1]
      if (e === undefined) break
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6)
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          if (hex.length < 4 && /^[0-9a-fA-F]*$/.test(hex)) break
          return {index: i, column: i + 1, message: `bad \\u escape in a string (expected 4 hex digits)`}
        }
        i += 6
        continue
      }
      if (!ESCAPES.has(e)) return {index: i, column: i + 1, message: `bad escape \\${e} in a string`}
      i += 2
      continue
    }
    i++
  }
  return {index: n, column: n + 1, message: `unexpected end of line (unterminated string from column ${start + 1})`}
}

function scanNumber(text: string, start: number): number | JsonSyntaxError {
  let i = start
  const digits = (): number => {
    const from = i
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++
    return i - from
  }
  const bad = (what: string): JsonSyntaxError => ({
    index: i,
    column: i + 1,
    message: i >= text.length ? `unexpected end of line (${what})` : `unexpected ${describeChar(text, i)} in a number (${what})`,
  })
  if (text[i] === '-') i++
  if (text[i] === '0') {
    i++
    if (i < text.length && text[i]! >= '0' && text[i]! <= '9') return bad('no leading zeros')
  } else if (digits() === 0) return bad('expected a digit')
  if (text[i] === '.') {
    i++
    if (digits() === 0) return bad('expected a digit after the decimal point')
  }
  if (text[i] === 'e' || text[i] === 'E') {
    i++
    if (text[i] === '+' || text[i] === '-') i++
    if (digits() === 0) return bad('expected a digit in the exponent')
  }
  return i
}

function scanLiteral(text: string, start: number): number | JsonSyntaxError {
  for (const word of ['true', 'false', 'null']) {
    if (word[0] !== text[start]) continue
    for (let k = 1; k < word.length; k++) {
      const at = start + k
      if (at >= text.length) return {index: at, column: at + 1, message: `unexpected end of line (expected ${word})`}
      if (text[at] !== word[k]) return {index: at, column: at + 1, message: `unexpected ${describeChar(text, at)} (expected ${word})`}
    }
    return start + word.length
  }
  return {index: start, column: start + 1, message: `unexpected ${describeChar(text, start)} (expected a value)`}
}

function describeChar(text: string, at: number): string {
  const cp = text.codePointAt(at)!
  if (cp < 0x20 || cp === 0x7f || cp === 0xfeff || (cp >= 0x80 && cp <= 0x9f)) return `character ${codePoint(cp)}`
  return `'${String.fromCodePoint(cp)}'`
}

function codePoint(cp: number): string {
  return 'U+' + cp.toString(16).toUpperCase().padStart(4, '0')
}
