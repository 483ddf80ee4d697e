/**
 * A bounded memo of a pure function of one string. Guardrail and redaction scans see the same texts
 * over and over (object keys, fixture results, constant details, system prompts, knowledge-base
 * documents), and a Map lookup costs a fraction of one regex pass.
 *
 * Two generations: new entries go to the young map; when it is full (entries or characters) it
 * becomes the old one and the previous old one is dropped; an old entry that is asked for again
 * moves back to the young map. So texts that keep coming back survive every turnover, what is held
 * is at most twice the bound however long the run, and nothing is ever looked up but by its whole
 * text (same key ⇒ same value: the function is pure).
 */
export type TextMemo<V> = {
  /** `compute(text)`, from the memo when it holds `text`. */
  get(text: string, compute: (text: string) => V): V
}

/**
 * Longest text held. V8 hashes a string of more characters than this by its length alone, so
 * longer keys of one length would all share one hash bucket; such texts are computed every time.
 */
export const MEMO_MAX_TEXT = 16_383

export function createTextMemo<V>(maxEntries = 4096, maxChars = 1 << 20): TextMemo<V> {
  let young = new Map<string, V>()
  let old = new Map<string, V>()
  let chars = 0
  const put = (text: string, value: V): void => {
    if (young.size >= maxEntries || chars + text.length > maxChars) {
      old = young
      young = new Map()
      chars = 0
    }
    young.set(text, value)
    chars += text.length
  }
  return {
    get(text, compute) {
      if (text.length > MEMO_MAX_TEXT) return compute(text)
      let value = young.get(text)
      if (value !== undefined) return value
      value = old.get(text)
      if (value === undefined) value = compute(text)
      put(text, value)
      return value
    },
  }
}
