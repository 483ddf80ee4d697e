import {isUtf8} from 'node:buffer'
import {MAX_NESTING} from '../util/nesting.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const OBJ = 1
const ARR = 2
/**
 * What the reader's `keep` is told of a line that is a JSON object: its top-level `id` when a
 * request id can be read from it (a string of 1 to MAX_READABLE_ID characters, as a bad line's id
 * is read), and its top-level `session_id` when a string.
 */
export type LineKeys = {id: string | null; session: string | null}

/** The longest string the reader takes as a request id where it cannot read the record. */
export const MAX_READABLE_ID = 200

// The open containers below the top level; reused, as the scan is synchronous.
const stack = new Uint8Array(MAX_NESTING + 1)

/**
 * The request id and session of a traffic line read off its bytes without building the value, for
 * `shadow --shard`: each shard reads every line, and a line of another shard need not be parsed.
 *
 * Sound, not complete: a result is returned only for a line that the reader would take as a JSON
 * object (valid UTF-8, one JSON object and nothing else, nested no deeper than MAX_NESTING), whose
 * top-level `id` is exactly what JSON.parse would give (one `id` key, its value a string of 1 to 200
 * printable ASCII characters without escapes) and whose top-level `session_id`, when there is one,
 * is likewise (one such key, a string of printable ASCII without escapes). On any other line (a
 * hostile one, an escaped key that might spell `id`, a number for an id, malformed JSON) it returns
 * null and the caller parses the line as before: the answer is never a guess.
 */
export function peekLineKeys(b: Uint8Array): (LineKeys & {id: string}) | null {
  const n = b.length
  let i = ws(b, 0, n)
  if (i >= n || b[i] !== LBRACE) return null
  let id: string | null = null
  let session: string | null | undefined
  i = ws(b, i + 1, n)
  if (i < n && b[i] === RBRACE) return null // {}: no id
  for (;;) {
    if (i >= n || b[i] !== QUOTE) return null
    const ks = i + 1
    i = skipString(b, ks, n)
    if (i < 0) return null
    const kind = keyKind(b, ks, i - 1)
    if (kind < 0) return null
    i = ws(b, i, n)
    if (i >= n || b[i] !== COLON) return null
    i = ws(b, i + 1, n)
    if (kind === 0) {
      i = skipValue(b, i, n)
      if (i < 0) return null
    } else {
      if (i >= n || b[i] !== QUOTE) return null
      const vs = i + 1
      i = skipString(b, vs, n)
      if (i < 0) return null
      const value = plainAscii(b, vs, i - 1)
      if (value === null) return null
      if (kind === KEY_ID) {
        if (id !== null || value.length === 0 || value.length > MAX_READABLE_ID) return null
        id = value
      } else {
        if (session !== undefined) return null
        session = value
      }
    }
    i = ws(b, i, n)
    if (i >= n) return null
    if (b[i] === COMMA) {
      i = ws(b, i + 1, n)
      continue
    }
    if (b[i] !== RBRACE) return null
    break
  }
  if (ws(b, i + 1, n) !== n || id === null) return null
  // Last, as the rarest reason to refuse and the only one that reads the whole line again (natively).
  if (!isUtf8(b)) return null
  return {id, session: session ?? null}
}

const KEY_ID = 1
const KEY_SESSION = 2

/** 1 for `id`, 2 for `session_id`, 0 for any other key, -1 for a key with an escape (it might spell either). */
function keyKind(b: Uint8Array, start: number, end: number): number {
  const len = end - start
  for (let j = start; j < end; j++) if (b[j] === BACKSLASH) return -1
  if (len === 2) return b[start] === 0x69 && b[start + 1] === 0x64 ? KEY_ID : 0
  if (len !== 10) return 0
  const s = 'session_id'
  for (let j = 0; j < 10; j++) if (b[start + j] !== s.charCodeAt(j)) return 0
  return KEY_SESSION
}

/** The string of bytes `start..end` when each is printable ASCII other than a backslash, else null. */
function plainAscii(b: Uint8Array, start: number, end: number): string | null {
  let s = ''
  for (let j = start; j < end; j++) {
    const c = b[j]!
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return null
    s += String.fromCharCode(c)
  }
  return s
}

/** Past JSON whitespace (space, tab, line feed, carriage return). */
function ws(b: Uint8Array, i: number, n: number): number {
  if (i < n && b[i]! > 0x20) return i
  while (i < n) {
    const c = b[i]!
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break
    i++
  }
  return i
}

/**
 * Past the closing quote of a string whose content starts at `i`, or -1 when it is not a JSON
 * string: an unescaped control character, an escape JSON does not have, no closing quote. Bytes
 * from 0x80 up are left to the UTF-8 check.
 */
function skipString(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    // Past b's end b[i] is undefined, and STRING_STOP[undefined] too: the run stops there.
    while (STRING_STOP[b[i]!] === 0) i++
    if (i >= n) return -1
    const c = b[i]!
    if (c === QUOTE) return i + 1
    if (c !== BACKSLASH) return -1
    if (i + 1 >= n) return -1
    const e = b[i + 1]!
    if (e === 0x75) {
      if (i + 5 >= n || !isHex(b[i + 2]!) || !isHex(b[i + 3]!) || !isHex(b[i + 4]!) || !isHex(b[i + 5]!)) return -1
      i += 6
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      i += 2
    } else return -1
  }
  return -1
}

// 1 for the bytes that end a run of plain string content: the quote, the backslash, control characters.
const STRING_STOP = new Uint8Array(256)
for (let c = 0; c < 0x20; c++) STRING_STOP[c] = 1
STRING_STOP[QUOTE] = 1
STRING_STOP[BACKSLASH] = 1

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/**
 * Past one JSON value starting at `i` (a member's value at the top level, so its containers open
 * at depth 2 and deeper), or -1 when there is none or it is malformed or nested past MAX_NESTING.
 */
function skipValue(b: Uint8Array, i: number, n: number): number {
  // Open containers of this value; the top-level object is depth 1, so depth = 1 + top.
  let top = 0
  for (;;) {
    // A value at i.
    i = ws(b, i, n)
    if (i >= n) return -1
    const c = b[i]!
    let opened = false
    if (c === QUOTE) {
      i = skipString(b, i + 1, n)
    } else if (c === LBRACE || c === LBRACKET) {
      if (1 + top + 1 > MAX_NESTING) return -1
      stack[top++] = c === LBRACE ? OBJ : ARR
      i = ws(b, i + 1, n)
      if (i < n && b[i] === (c === LBRACE ? RBRACE : RBRACKET)) {
        top--
        i++
      } else if (c === LBRACE) {
        i = memberKey(b, i, n)
        opened = true
      } else opened = true
    } else if (c === 0x74) {
      i = literal(b, i, n, 'true')
    } else if (c === 0x66) {
      i = literal(b, i, n, 'false')
    } else if (c === 0x6e) {
      i = literal(b, i, n, 'null')
    } else {
      i = skipNumber(b, i, n)
    }
    if (i < 0) return -1
    if (opened) continue
    // After a value: a separator, or the ends of the containers it closes.
    for (;;) {
      if (top === 0) return i
      i = ws(b, i, n)
      if (i >= n) return -1
      const d = b[i]!
      if (d === COMMA) {
        i = ws(b, i + 1, n)
        if (stack[top - 1] === OBJ) i = memberKey(b, i, n)
        if (i < 0) return -1
        break
      }
      if (d !== (stack[top - 1] === OBJ ? RBRACE : RBRACKET)) return -1
      top--
      i++
    }
  }
}

/** Past `"key" :` at `i` (after whitespace), or -1. */
function memberKey(b: Uint8Array, i: number, n: number): number {
  if (i >= n || b[i] !== QUOTE) return -1
  i = skipString(b, i + 1, n)
  if (i < 0) return -1
  i = ws(b, i, n)
  if (i >= n || b[i] !== COLON) return -1
  return i + 1
}

function literal(b: Uint8Array, i: number, n: number, word: string): number {
  if (i + word.length > n) return -1
  for (let j = 0; j < word.length; j++) if (b[i + j] !== word.charCodeAt(j)) return -1
  return i + word.length
}

/** Past a JSON number at `i`: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, or -1. */
function skipNumber(b: Uint8Array, i: number, n: number): number {
  if (i < n && b[i] === 0x2d) i++
  if (i >= n) return -1
  if (b[i] === 0x30) i++
  else if (isDigit(b[i]!)) while (i < n && isDigit(b[i]!)) i++
  else return -1
  if (i < n && b[i] === 0x2e) {
    i++
    if (i >= n || !isDigit(b[i]!)) return -1
    while (i < n && isDigit(b[i]!)) i++
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++
    if (i >= n || !isDigit(b[i]!)) return -1
    while (i < n && isDigit(b[i]!)) i++
  }
  return i
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}
