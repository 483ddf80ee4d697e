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
  const body = text.replace(/^\uFEFF/, '')
  const errors: string[] = []
  const trimmed = body.trimStart()
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && !body.trimEnd().includes('\n'))) {
    const whole = tryParse(body)
    if (whole.ok) {
      const deepAt = jsonTooDeepAt(body)
      if (deepAt >= 0) return {values: [], errors: [`${file}: json: at offset ${deepAt}: ${tooDeepMessage()}`]}
      if (Array.isArray(whole.value)) return {values: whole.value.map((value) => ({value, line: 0})), errors}
      const obj = whole.value as Record<string, unknown> | null
      for (const k of arrayKeys) {
        if (obj !== null && typeof obj === 'object' && Array.isArray(obj[k])) return {values: (obj[k] as unknown[]).map((value) => ({value, line: 0})), errors}
      }
      return {values: [{value: whole.value, line: 1}], errors}
    }
  }
  const values: Located[] = []
  body.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '')
    if (line.trim() === '') return
    const parsed = tryParse(line)
    if (!parsed.ok) return errors.push(`${file}:${i + 1}: json: invalid JSON: ${parsed.message}`)
    const deepAt = jsonTooDeepAt(line)
    if (deepAt >= 0) return errors.push(`${file}:${i + 1}: json: at column ${deepAt + 1}: ${tooDeepMessage()}`)
    values.push({value: parsed.value, line: i + 1})
  })
  return {values, errors}
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
