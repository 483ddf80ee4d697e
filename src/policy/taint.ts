/**
 * Taint: which argument values of a proposed call came from untrusted content (retrieved documents,
 * earlier tool results) and not from the user. It answers "who asked for this call": an argument
 * only a document or a tool answer mentions (an account number planted in a web page) was not asked
 * for by the user, whatever the model says.
 *
 * The rule, precisely (docs/policy-language.md repeats it for rule authors):
 * - the candidates are the leaf values of the arguments: strings and finite numbers, found by
 *   walking objects and arrays; the result names each by its dotted path (`to.iban`, `items.0.sku`);
 * - a value and every text are normalised the same way: Unicode NFKC, lower case, every run of
 *   white space one space, trimmed;
 * - values shorter than TAINT_MIN_CHARS after normalising are never tainted: "1", "yes" or "usd"
 *   appear everywhere and would say nothing;
 * - a value occurs in a text when it appears there with no letter or digit right before or after it
 *   ("1234" does not occur in "12345");
 * - a leaf is tainted when it occurs in some untrusted text and in no trusted text.
 */

export const TAINT_MIN_CHARS = 4

/** Printable ASCII without white space: NFKC and white-space folding leave it as it is. */
const PLAIN = /^[\x21-\x7e]*$/

/** The normal form values and texts are compared in. */
export function normalizeForTaint(text: string): string {
  if (PLAIN.test(text)) return text.toLowerCase()
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim()
}

/**
 * Normalised texts, each side joined into one string by newlines (a newline is never inside a
 * normalised text, and it is not a letter or digit, so no match spans two texts): a request
 * normalises each source once, and one search covers all of them.
 */
export type TaintSources = {trusted: string; untrusted: string}

/** Joins normalised texts for TaintSources. */
export function joinTexts(texts: readonly string[]): string {
  return texts.join('\n')
}

/** Normalised texts of every string and number leaf of a JSON value (a tool result). */
export function leafTexts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(normalizeForTaint(value))
  else if (typeof value === 'number' && Number.isFinite(value)) out.push(String(value))
  else if (Array.isArray(value)) for (const v of value) leafTexts(v, out)
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) leafTexts(v, out)
  return out
}

/** Dotted paths of the tainted argument leaves, sorted. Pure: same arguments and sources, same answer. */
export function taintedArgs(args: Record<string, unknown>, sources: TaintSources): string[] {
  const out: string[] = []
  if (sources.untrusted === '') return out
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      const needle = typeof value === 'string' ? normalizeForTaint(value) : String(value)
      if (needle.length < TAINT_MIN_CHARS) return
      if (occursIn(sources.untrusted, needle) && !occursIn(sources.trusted, needle)) out.push(path)
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, path === '' ? String(i) : `${path}.${i}`))
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, path === '' ? k : `${path}.${k}`)
    }
  }
  visit(args, '')
  return out.sort()
}

const WORD = /[\p{L}\p{N}]/u

/** Whether `needle` appears in `text` with no letter or digit touching either end. */
export function occursIn(text: string, needle: string): boolean {
  const startsWord = WORD.test(needle[0]!)
  const endsWord = WORD.test(needle[needle.length - 1]!)
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    const before = at > 0 ? text[at - 1]! : ''
    const after = at + needle.length < text.length ? text[at + needle.length]! : ''
    // A boundary matters only where the value itself starts or ends with a letter or digit.
    if ((!startsWord || before === '' || !WORD.test(before)) && (!endsWord || after === '' || !WORD.test(after))) return true
  }
  return false
}
