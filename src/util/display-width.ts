import stringWidth from 'string-width'

/**
 * Terminal display width of text, for views laid out in fixed columns. A code point is not a
 * column: CJK and most emoji take two, combining marks and zero-width joiners none. Text is cut
 * only between grapheme clusters, so an emoji sequence or an accented letter is never split.
 * None of these helpers handle ANSI escapes or control characters: callers escape those first.
 *
 * Every helper is linear in the text's length. Node 20's Intl.Segmenter takes time quadratic in
 * the length of the string it iterates (and string-width iterates one over its whole input), so
 * a long string is never handed to either: it is segmented in short windows, one cluster at a time
 * measured by string-width.
 */

const graphemeSegmenter = new Intl.Segmenter(undefined, {granularity: 'grapheme'})
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/
/** Code units segmented at once; a window that one cluster fills is doubled until it ends inside. */
const WINDOW = 64

/** The grapheme clusters of `s`, in order. */
export function* graphemes(s: string): Generator<string> {
  let i = 0
  while (i < s.length) {
    const c = s.charCodeAt(i)
    // Printable ASCII followed by ASCII (or nothing) is a cluster on its own: nothing ASCII extends it.
    if (c >= 0x20 && c < 0x7f && (i + 1 === s.length || s.charCodeAt(i + 1) < 0x80)) {
      yield s[i]!
      i++
      continue
    }
    // `i` is a cluster boundary, so segmenting from it gives the clusters the whole string has,
    // except the window's last one, which the window's end may have cut short.
    for (let window = WINDOW; ; window *= 2) {
      let end = Math.min(s.length, i + window)
      // Cutting a surrogate pair would make a lone surrogate, a cluster of its own, out of it.
      if (end < s.length && isHighSurrogate(s.charCodeAt(end - 1))) end--
      const clusters = Array.from(graphemeSegmenter.segment(s.slice(i, end)), (x) => x.segment)
      const keep = end === s.length ? clusters.length : clusters.length - 1
      if (keep === 0) continue
      for (let k = 0; k < keep; k++) {
        yield clusters[k]!
        i += clusters[k]!.length
      }
      break
    }
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}

/** string-width costs microseconds a call and text repeats its clusters: widths are remembered. */
const widthCache = new Map<string, number>()
const WIDTH_CACHE_MAX = 16_384

function clusterWidth(g: string): number {
  if (g.length === 1) {
    const c = g.charCodeAt(0)
    if (c >= 0x20 && c < 0x7f) return 1
  }
  let w = widthCache.get(g)
  if (w === undefined) {
    w = stringWidth(g)
    if (widthCache.size >= WIDTH_CACHE_MAX) widthCache.clear()
    widthCache.set(g, w)
  }
  return w
}

export function displayWidth(s: string): number {
  if (PRINTABLE_ASCII.test(s)) return s.length
  let width = 0
  for (const g of graphemes(s)) width += clusterWidth(g)
  return width
}

/**
 * Breaks `s` into pieces for consecutive lines: the first fits in `first` columns (it may be
 * empty), each later one in `width` columns. A cluster wider than a whole line still gets a line
 * of its own: one line too wide beats a wrap that never ends.
 */
export function breakToWidth(s: string, first: number, width: number): string[] {
  if (width > 0 && PRINTABLE_ASCII.test(s)) {
    if (s.length <= first) return [s]
    const pieces = [s.slice(0, Math.max(0, first))]
    for (let i = Math.max(0, first); i < s.length; i += width) pieces.push(s.slice(i, i + width))
    return pieces
  }
  const pieces: string[] = []
  let room = first
  let used = 0
  let start = 0
  let at = 0
  for (const g of graphemes(s)) {
    const w = clusterWidth(g)
    if (used + w > room && (used > 0 || pieces.length === 0)) {
      pieces.push(s.slice(start, at))
      start = at
      used = 0
      room = width
    }
    used += w
    at += g.length
  }
  pieces.push(s.slice(start))
  return pieces
}

/** `s` padded with spaces to exactly `width` columns, or cut to `width - 1` columns and an ellipsis. */
export function fitWidth(s: string, width: number): string {
  if (width <= 0) return ''
  let used = 0
  let at = 0
  // The longest prefix that leaves a column for the ellipsis.
  let cutAt = 0
  let cutWidth = 0
  for (const g of graphemes(s)) {
    const w = clusterWidth(g)
    if (used + w > width) return s.slice(0, cutAt) + '…' + ' '.repeat(width - 1 - cutWidth)
    used += w
    at += g.length
    if (used <= width - 1) {
      cutAt = at
      cutWidth = used
    }
  }
  return s + ' '.repeat(width - used)
}
