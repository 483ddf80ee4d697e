/**
 * Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input",
 * IEEE TSE 2002): the ddmin algorithm, over a list of changes. `test` says whether a subset,
 * applied alone, reproduces the effect (`true`), does not (`false`), or cannot be tried (`null`:
 * the subset makes no valid bundle, which ddmin treats as "unresolved" and steps past).
 *
 * Precondition: `test(all)` is true. Result: a 1-minimal subset, one where removing any single
 * change stops the effect (within what `test` could resolve). Subsets are tried in a fixed order,
 * so the same answers give the same result.
 */
export type Outcome = boolean | null

export async function ddmin<T>(all: readonly T[], test: (subset: readonly T[]) => Promise<Outcome>, firstSplit?: readonly T[][]): Promise<T[]> {
  let c = [...all]
  let n = 2
  // The caller may say how to cut the whole set in two the first time (any two non-empty parts are
  // a valid ddmin partition); afterwards parts are consecutive runs, as in the paper.
  let first = firstSplit !== undefined && firstSplit.length === 2 && firstSplit.every((p) => p.length > 0) ? firstSplit.map((p) => [...p]) : null
  while (c.length >= 2) {
    const parts = first ?? split(c, n)
    first = null
    let next: T[] | null = null
    for (const part of parts) {
      if ((await test(part)) === true) {
        next = part
        n = 2
        break
      }
    }
    if (next === null && n > 2) {
      // With two parts each complement is the other part, already tried.
      for (const part of parts) {
        const complement = c.filter((x) => !part.includes(x))
        if ((await test(complement)) === true) {
          next = complement
          n = Math.max(n - 1, 2)
          break
        }
      }
    }
    if (next !== null) {
      c = next
      continue
    }
    if (n >= c.length) break
    n = Math.min(c.length, 2 * n)
  }
  return c
}

/** `list` in `n` consecutive parts of near-equal size (the first ones one longer). */
export function split<T>(list: readonly T[], n: number): T[][] {
  const out: T[][] = []
  let start = 0
  for (let i = 0; i < n; i++) {
    const size = Math.floor(list.length / n) + (i < list.length % n ? 1 : 0)
    out.push(list.slice(start, start + size))
    start += size
  }
  return out.filter((p) => p.length > 0)
}
