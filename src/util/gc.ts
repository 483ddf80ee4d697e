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

/**
 * Old-generation headroom during a replay, in percent of the live heap after each major GC. V8
 * sizes the next limit by its GC speed, up to 4 times the live size for a busy mutator: ~90 MB
 * of mostly garbage over ~22 MB live in a replay, all of it RSS. Objects a request keeps past two
 * scavenges (bounded caches' entries, in-flight records) are promoted at ~3 KB a request, so a
 * limit of 1.5 times the live size costs one incremental major GC every few thousand requests.
 */
const REPLAY_HEAP_GROWING_PERCENT = 50

/**
 * Bounds V8's old-generation growth (see above) until the returned function restores the default.
 * The bound applies from the next major GC on, so one runs now: until the first, V8's initial
 * limit lets the heap grow ~50 MB past what start-up left.
 */
export function boundHeapGrowth(): () => void {
  v8.setFlagsFromString(`--heap-growing-percent=${REPLAY_HEAP_GROWING_PERCENT}`)
  fullGc()
  return () => v8.setFlagsFromString('--heap-growing-percent=0')
}
