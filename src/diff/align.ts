/**
 * Aligns two sequences by a key with a longest common subsequence, so that one inserted or removed
 * element does not shift every later pairing. Elements left unpaired on both sides with the same key
 * are then paired as `moved` (a reordering), placed where the candidate has them.
 */

export type AlignKind = 'same' | 'removed' | 'added' | 'moved'

export type AlignedPair = {
  kind: AlignKind
  /** Index into the base sequence, or null for `added`. */
  base: number | null
  /** Index into the candidate sequence, or null for `removed`. */
  cand: number | null
}

/** Beyond this many cells the quadratic table is not worth it; a greedy pass is used instead. */
const MAX_LCS_CELLS = 250_000

export function alignByKey<T>(base: readonly T[], cand: readonly T[], key: (item: T) => string): AlignedPair[] {
  const a = base.map(key)
  const b = cand.map(key)
  const pairs = a.length * b.length > MAX_LCS_CELLS ? greedyPairs(a, b) : lcsPairs(a, b)
  return pairMoves(pairs, a, b)
}

let shared = new Uint32Array(1024)

/**
 * A zeroed table of `cells` cells, reused between calls: a typed array allocated per request
 * costs more than the small table's arithmetic. Safe because lcsPairs does not re-enter.
 */
function table(cells: number): Uint32Array {
  if (cells > shared.length) shared = new Uint32Array(Math.max(cells, shared.length * 2))
  shared.fill(0, 0, cells)
  return shared
}

function lcsPairs(a: string[], b: string[]): AlignedPair[] {
  const n = a.length
  const m = b.length
  // The walk below pairs equal heads as it meets them, so a common prefix needs no table: most
  // sequences compared are equal or nearly so.
  let p = 0
  while (p < n && p < m && a[p] === b[p]) p++
  if (p === n && p === m) {
    const same: AlignedPair[] = new Array(n)
    for (let k = 0; k < n; k++) same[k] = {kind: 'same', base: k, cand: k}
    return same
  }
  // suffix table: len[i][j] = LCS length of a[i..] and b[j..], flattened
  const width = m + 1
  const len = table((n + 1) * width)
  for (let i = n - 1; i >= p; i--) {
    for (let j = m - 1; j >= p; j--) {
      len[i * width + j] =
        a[i] === b[j]
          ? len[(i + 1) * width + j + 1]! + 1
          : Math.max(len[(i + 1) * width + j]!, len[i * width + j + 1]!)
    }
  }
  const out: AlignedPair[] = []
  for (let k = 0; k < p; k++) out.push({kind: 'same', base: k, cand: k})
  let i = p
  let j = p
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({kind: 'same', base: i++, cand: j++})
    } else if (len[(i + 1) * width + j]! >= len[i * width + j + 1]!) {
      out.push({kind: 'removed', base: i++, cand: null})
    } else {
      out.push({kind: 'added', base: null, cand: j++})
    }
  }
  while (i < n) out.push({kind: 'removed', base: i++, cand: null})
  while (j < m) out.push({kind: 'added', base: null, cand: j++})
  return out
}

/** Linear fallback for very long sequences: match in order, skipping ahead on the candidate side. */
function greedyPairs(a: string[], b: string[]): AlignedPair[] {
  const out: AlignedPair[] = []
  let j = 0
  for (let i = 0; i < a.length; i++) {
    const k = b.indexOf(a[i]!, j)
    if (k === -1) {
      out.push({kind: 'removed', base: i, cand: null})
      continue
    }
    while (j < k) out.push({kind: 'added', base: null, cand: j++})
    out.push({kind: 'same', base: i, cand: j++})
  }
  while (j < b.length) out.push({kind: 'added', base: null, cand: j++})
  return out
}

function pairMoves(pairs: AlignedPair[], a: string[], b: string[]): AlignedPair[] {
  const removedByKey = new Map<string, number[]>()
  for (const p of pairs) {
    if (p.kind === 'removed') {
      const k = a[p.base!]!
      const list = removedByKey.get(k)
      if (list) list.push(p.base!)
      else removedByKey.set(k, [p.base!])
    }
  }
  if (removedByKey.size === 0) return pairs
  const movedBase = new Set<number>()
  const out: AlignedPair[] = []
  for (const p of pairs) {
    if (p.kind === 'added') {
      const list = removedByKey.get(b[p.cand!]!)
      const from = list?.shift()
      if (from !== undefined) {
        movedBase.add(from)
        out.push({kind: 'moved', base: from, cand: p.cand})
        continue
      }
    }
    out.push(p)
  }
  return out.filter((p) => !(p.kind === 'removed' && movedBase.has(p.base!)))
}
