import {parseDocument} from 'yaml'

export type ParsedText = {ok: true; value: unknown} | {ok: false; problems: string[]}

/**
 * Parses manifest text (YAML or JSON by file name). Syntax errors come back as
 * `file:LINE:COL: message`, every one the parser found, rather than as a throw.
 */
export function parseManifestText(file: string, text: string): ParsedText {
  return /\.json$/i.test(file) ? parseJson(file, text) : parseYaml(file, text)
}

function parseYaml(file: string, text: string): ParsedText {
  // prettyErrors off: its messages carry a multi-line source excerpt; we want one line each.
  const doc = parseDocument(text, {prettyErrors: false, uniqueKeys: true})
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => `${file}:${lineCol(text, e.pos[0])}: ${e.message.split('\n')[0]}`),
    }
  }
  return {ok: true, value: doc.toJS({maxAliasCount: 100})}
}

function parseJson(file: string, text: string): ParsedText {
  try {
    return {ok: true, value: JSON.parse(text)}
  } catch (e) {
    const where = locateJsonError(text)
    // V8 sometimes quotes the whole input in the message; the location already says where.
    const message = (e as Error).message.replace(/,? ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '')
    return {ok: false, problems: [`${file}:${lineCol(text, where)}: ${message}`]}
  }
}

/** `LINE:COL` (both 1-based) of a character offset. */
export function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const lines = before.split('\n')
  return `${lines.length}:${(lines.at(-1)?.length ?? 0) + 1}`
}

/**
 * Offset of the first JSON syntax error. V8's messages give a position for some errors and not
 * others, so this walks the grammar itself; it is only called once JSON.parse has failed.
 */
export function locateJsonError(text: string): number {
  let i = 0
  const fail = (at: number): never => {
    throw new JsonStop(at)
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail(i)
      i++
    }
  }
  const string = () => {
    if (text[i] !== '"') fail(i)
    i++
    while (i < text.length && text[i] !== '"') {
      const ch = text[i]!
      if (ch < ' ') fail(i)
      if (ch === '\\') {
        i++
        const esc = text[i]
        if (esc === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k)
          i += 4
        } else if (esc === undefined || !'"\\/bfnrt'.includes(esc)) fail(i)
      }
      i++
    }
    if (i >= text.length) fail(i)
    i++
  }
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    if (!m || m[0] === '' || m[0] === '-') fail(i)
    i += m![0].length
  }
  const value = (): void => {
    ws()
    const ch = text[i]
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') {
        i++
        return
      }
      for (;;) {
        ws()
        string()
        ws()
        if (text[i] !== ':') fail(i)
        i++
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return
        }
        fail(i)
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') {
        i++
        return
      }
      for (;;) {
        value()
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return
        }
        fail(i)
      }
    }
    if (ch === '"') return string()
    if (ch === 't') return literal('true')
    if (ch === 'f') return literal('false')
    if (ch === 'n') return literal('null')
    return number()
  }
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1
    value()
    ws()
    if (i < text.length) fail(i)
    return text.length
  } catch (e) {
    if (e instanceof JsonStop) return e.at
    throw e
  }
}

class JsonStop {
  constructor(readonly at: number) {}
}
