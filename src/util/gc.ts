import v8 from 'node:v8'
import vm from 'node:vm'

let cached: (() => void) | null | undefined

/**
 * A full garbage collection, forced. Node exposes `gc` only with --expose-gc; setting the flag at
 * run time and reading `gc` from a fresh context is the documented way to get it without a
 * command-line flag.
 *
 * Called before a replay's first request, never during one: after a forced collection V8
 * recompiles the hot code from scratch (~50 functions re-marked for TurboFan each time, with no
 * deopt logged), so collecting every 25k requests cost a long replay up to a sixth of its CPU on
 * the compiler threads; the bounded growth below keeps RSS flat without it.
 */
function fullGc(): void {
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
 * scavenges (bounded caches' entries, in-flight records) are promoted at ~0.6 KB a request, so a
 * limit of 1.5 times the live size costs one incremental major GC every few thousand requests.
 */
const REPLAY_HEAP_GROWING_PERCENT = 50

/**
 * Heap settings for a replay, until the returned function restores V8's defaults:
 *
 * - Old-generation growth bounded (see above). The bound applies from the next major GC on, so
 *   one runs now: until the first, V8's initial limit lets the heap grow ~50 MB past what
 *   start-up left.
 * - No allocation-site pretenuring. V8 moves an allocation site to the old generation when most of
 *   what it allocated survived a scavenge, and a site that once looked long-lived stays there. In
 *   a replay that is the wrong guess: the traffic record's schema parse (zod's compiled parser)
 *   was pretenured, so every record it built went straight to the old generation and kept the
 *   young objects it points to (the line's `JSON.parse` values) alive through every scavenge
 *   until the next major GC: ~2 KB a request promoted, not ~0.6 KB, and scavenges of 3–4 ms
 *   instead of ~2 (docs/performance.md). V8 consults the flag as it collects allocation feedback,
 *   at each scavenge, so it takes effect when set at run time (a flag that reshapes the GC's
 *   threads, such as --single-threaded-gc, aborts V8 instead); sites decided before stay as they were.
 */
export function tuneHeapForReplay(): () => void {
  v8.setFlagsFromString(`--heap-growing-percent=${REPLAY_HEAP_GROWING_PERCENT}`)
  v8.setFlagsFromString('--no-allocation-site-pretenuring')
  fullGc()
  return () => {
    v8.setFlagsFromString('--heap-growing-percent=0')
    v8.setFlagsFromString('--allocation-site-pretenuring')
  }
}
