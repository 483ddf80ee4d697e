/**
 * The values of the last `size` objects set, found by identity (a linear scan: rings are small).
 * For what is asked again within a request or two of being computed: a WeakMap entry per object
 * costs about as much (insertion, ephemeron work in GC) as computing the value again. A key pushed
 * out is simply not found, and its caller computes the same value again. Invariant the callers rely
 * on: a key object is not changed while it may be kept.
 */
export class IdentityRing<K extends object, V> {
  private readonly keys: (K | undefined)[]
  private readonly values: (V | undefined)[]
  private next = 0

  constructor(private readonly size: number) {
    this.keys = new Array(size)
    this.values = new Array(size)
  }

  get(key: K): V | undefined {
    for (let i = 0; i < this.size; i++) if (this.keys[i] === key) return this.values[i]
    return undefined
  }

  /** Keeps `value` for `key`, pushing out the oldest entry when full. */
  set(key: K, value: V): void {
    this.keys[this.next] = key
    this.values[this.next] = value
    this.next = (this.next + 1) % this.size
  }
}
