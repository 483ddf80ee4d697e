import {jsonTooDeepAt, tooDeepMessage} from '../util/nesting.js'

/** One JSON value of a file with where it came from: `line` is 1-based, 0 when the file was one JSON document. */
export type Located = {value: unknown; line: number}

/**
 * The JSON values of a file: JSON Lines (one value per line; blank lines skipped), or one JSON
 * document whose array (or `data` / `runs` / `traces` / `observations` array) holds the values, as
 * vendors' export buttons and APIs write them. A line that is not JSON is reported as
 * `file:LINE: json: …` and left out; the others are still read.
 */
export function readJsonValues(text: string, file: string, arrayKeys: string[] = ['data']): {values: Located[]; errors: string[]} {
  const values: Located[] = []
  const errors = eachJsonValue(text, file, (v) => values.push(v), arrayKeys)
  return {values, errors}
}

/**
 * readJsonValues without holding them: each value is handed to `visit` as it is parsed, so a long
 * JSON Lines file is never all in memory as objects at once. Returns the errors of unreadable lines.
 */
export function eachJsonValue(text: string, file: string, visit: (v: Located, index: number) => void, arrayKeys: string[] = ['data']): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const errors: string[] = []
  const start = body.search(/\S/)
  const firstBreak = body.indexOf('\n', start)
  const oneLine = firstBreak < 0 || body.slice(firstBreak).trim() === ''
  if (body[start] === '[' || (body[start] === '{' && oneLine)) {
    const whole = tryParse(body)
    if (whole.ok) {
      const deepAt = jsonTooDeepAt(body)
      if (deepAt >= 0) return [`${file}: json: at offset ${deepAt}: ${tooDeepMessage()}`]
      const obj = whole.value as Record<string, unknown> | null
      const list = Array.isArray(obj) ? obj : arrayKeys.map((k) => (obj !== null && typeof obj === 'object' ? obj[k] : undefined)).find(Array.isArray)
      if (list === undefined) visit({value: whole.value, line: 1}, 0)
      else (list as unknown[]).forEach((value, i) => visit({value, line: 0}, i))
      return errors
    }
  }
  let index = 0
  let from = 0
  for (let i = 0; from <= body.length; i++) {
    const end = body.indexOf('\n', from)
    const raw = body.slice(from, end < 0 ? body.length : end)
    from = end < 0 ? body.length + 1 : end + 1
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (line.trim() === '') continue
    const parsed = tryParse(line)
    if (!parsed.ok) {
      errors.push(`${file}:${i + 1}: json: invalid JSON: ${parsed.message}`)
      continue
    }
    const deepAt = jsonTooDeepAt(line)
    if (deepAt >= 0) {
      errors.push(`${file}:${i + 1}: json: at column ${deepAt + 1}: ${tooDeepMessage()}`)
      continue
    }
    visit({value: parsed.value, line: i + 1}, index++)
  }
  return errors
}

function tryParse(text: string): {ok: true; value: unknown} | {ok: false; message: string} {
  try {
    return {ok: true, value: JSON.parse(text)}
  } catch (e) {
    return {ok: false, message: (e as Error).message.split('\n')[0] ?? 'invalid JSON'}
  }
}

/** `file:LINE` for a line of JSON Lines, `file: item N` for an element of one JSON array. */
export function where(file: string, loc: {line: number}, index: number): string {
  return loc.line > 0 ? `${file}:${loc.line}` : `${file}: item ${index}`
}
