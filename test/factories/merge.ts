/**
 * Overrides for a factory: any field at any depth. Plain objects merge into the default key by key;
 * arrays and every other value replace it whole; `undefined` leaves the field out.
 */
export type Overrides<T> = T extends readonly unknown[]
  ? T
  : T extends Record<string, unknown>
    ? {[K in keyof T]?: Overrides<T[K]> | undefined}
    : T

/** Overrides of any shape, for a factory that builds something invalid on purpose. */
export type LooseOverrides = Record<string, unknown>

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype

/** `base` with each of `overrides` merged over it in turn (see Overrides); neither is modified. */
export function merge<T>(base: T, ...overrides: NoInfer<Overrides<T> | LooseOverrides | undefined>[]): T {
  let out: unknown = base
  for (const over of overrides) out = mergeTwo(out, over)
  return out as T
}

function mergeTwo(base: unknown, over: unknown): unknown {
  if (over === undefined) return base
  if (!isPlainObject(base) || !isPlainObject(over)) return over
  const out: Record<string, unknown> = {...base}
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) delete out[key]
    else out[key] = mergeTwo(out[key], value)
  }
  return out
}
