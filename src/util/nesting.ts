/**
 * How deep arrays and objects may nest in what the program reads (config files, traffic lines).
 * Deeper input is refused with a located problem before anything walks it: schema validation,
 * canonical hashing and redaction recurse, and a value nested some thousands of levels deep
 * overflowed the call stack (`RangeError: Maximum call stack size exceeded`, no file named).
 * Real bundles and traffic nest a few levels; 256 is far beyond any of them and far below the stack.
 */
export const MAX_NESTING = 256

/**
 * The index of the first `[` or `{` of JSON text that opens a level deeper than `limit`, or -1.
 * Linear, one pass; brackets inside strings do not count. Meant for text JSON.parse accepted.
 */
export function jsonTooDeepAt(text: string, limit = MAX_NESTING): number {
  // Cheap exit: nesting past the limit takes more than `limit` opening brackets, so text with no
  // more than that (counted with indexOf, strings included: an upper bound) cannot nest past it.
  if (text.length <= limit || !moreThan(text, limit)) return -1
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return -1
}

/** Whether `text` has more than `limit` `[` and `{` characters in all. */
function moreThan(text: string, limit: number): boolean {
  let n = 0
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n > limit) return true
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n > limit) return true
  return false
}

/** `nested more than 256 levels deep`: the message for input past the limit. */
export function tooDeepMessage(limit = MAX_NESTING): string {
  return `nested more than ${limit} levels deep (arrays and objects inside one another); refused`
}
