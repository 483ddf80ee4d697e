import v8 from 'node:v8'
import vm from 'node:vm'

let cached: (() => void) | null | undefined

/**
 * A full garbage collection, for long streaming jobs. A replay allocates fast and keeps almost
 * nothing (live heap ~16 MB), but V8 defers major collections and grows the heap meanwhile, so
 * RSS creeps up by ~0.5 KB a request and a 1M-request replay would blow its memory budget. One
 * collection every few tens of thousands of requests keeps RSS flat at a cost of milliseconds.
 * Node exposes `gc` only with --expose-gc; setting the flag at run time and reading `gc` from a
 * fresh context is the documented way to get it without a command-line flag.
 */
export function fullGc(): void {
  if (cached === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      cached = vm.runInNewContext('gc') as () => void
    } catch {
      cached = null
    }
  }
  cached?.()
}
