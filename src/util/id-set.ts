/**
 * Request ids seen in a run, each with the traffic line it first appeared on. A Map of strings
 * costs ~100 bytes an id; this keeps ~12 (two 32-bit hash halves and the line in typed arrays),
 * which is what lets a 1,000,000-request replay stay within its memory budget. Ids are compared
 * by a 64-bit hash: a false duplicate needs a full collision, about 3e-8 for a million ids.
 */
export class IdLineSet {
  private hi: Uint32Array
  private lo: Uint32Array
  /** 0 marks an empty slot: traffic lines start at 1. */
  private lines: Uint32Array
  private count = 0

  constructor(initialCapacity = 1024) {
    let cap = 16
    while (cap < initialCapacity * 2) cap *= 2
    this.hi = new Uint32Array(cap)
    this.lo = new Uint32Array(cap)
    this.lines = new Uint32Array(cap)
  }

  get size(): number {
    return this.count
  }

  /** The line `id` was first recorded on, or undefined. */
  get(id: string): number | undefined {
    const [h, l] = hash64(id)
    const mask = this.lines.length - 1
    for (let i = l & mask; ; i = (i + 1) & mask) {
      const line = this.lines[i]!
      if (line === 0) return undefined
      if (this.hi[i] === h && this.lo[i] === l) return line
    }
  }

  /** Records `id` at `line` unless it is already there. */
  set(id: string, line: number): void {
    if (line < 1 || !Number.isInteger(line)) throw new RangeError(`line must be a positive integer, got ${line}`)
    if ((this.count + 1) * 2 > this.lines.length) this.grow()
    const [h, l] = hash64(id)
    if (this.insert(h, l, line)) this.count++
  }

  private insert(h: number, l: number, line: number): boolean {
    const mask = this.lines.length - 1
    for (let i = l & mask; ; i = (i + 1) & mask) {
      if (this.lines[i] === 0) {
        this.hi[i] = h
        this.lo[i] = l
        this.lines[i] = line
        return true
      }
      if (this.hi[i] === h && this.lo[i] === l) return false
    }
  }

  private grow(): void {
    const {hi, lo, lines} = this
    this.hi = new Uint32Array(lines.length * 2)
    this.lo = new Uint32Array(lines.length * 2)
    this.lines = new Uint32Array(lines.length * 2)
    for (let i = 0; i < lines.length; i++) if (lines[i] !== 0) this.insert(hi[i]!, lo[i]!, lines[i]!)
  }
}

/**
 * A set of strings kept as 64-bit hashes, ~12 bytes an entry (an IdLineSet whose line marks
 * presence). A false "present" needs a full 64-bit collision: about 1e-7 for two million keys.
 */
export class HashedKeySet {
  private readonly table: IdLineSet

  constructor(initialCapacity?: number) {
    this.table = new IdLineSet(initialCapacity)
  }

  get size(): number {
    return this.table.size
  }

  has(key: string): boolean {
    return this.table.get(key) !== undefined
  }

  add(key: string): void {
    this.table.set(key, 1)
  }
}

/** Two independent 32-bit FNV-1a streams over the UTF-16 code units, each finished with murmur3's fmix32. */
function hash64(text: string): [number, number] {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  return [fmix32(a ^ text.length), fmix32(b)]
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
