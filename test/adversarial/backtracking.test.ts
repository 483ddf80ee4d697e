import path from 'node:path'
import {Worker} from 'node:worker_threads'
import {describe, expect, it} from 'vitest'
import {repoRoot} from '../helpers/cli.js'

// Adversarial: no regular expression on the model request path may backtrack quadratically. One
// chat whose user message was a single 200 KB word took the Ollama-protocol sandbox 28 s (a 15 MB
// one more than ten minutes), and every other client waited. Each case runs in a worker
// (backtracking-probes.mjs) that this test stops when a case outlives the watchdog.

/** 200 KB of each hostile run: linear work is a few milliseconds, quadratic work tens of seconds. */
const SIZE = 200_000
/** A case slower than this fails; linear cases take a few ms even on a loaded machine. */
const BOUND_MS = 1_000
/** A case still running after this is stopped (and fails). */
const WATCHDOG_MS = 4_000

type Message = {kind: 'count'; count: number} | {kind: 'start'; index: number; name: string} | {kind: 'done'; index: number; name: string; ms: number} | {kind: 'end'}

/** Runs cases from `from` on; resolves with the slow ones, or with the stuck one and where to go on. */
function runFrom(from: number): Promise<{slow: string[]; stuckAt: number | null; count: number}> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(repoRoot, 'test/adversarial/backtracking-probes.mjs'), {workerData: {root: repoRoot, size: SIZE, from}})
    const slow: string[] = []
    let count = 0
    let current: {index: number; name: string} | null = null
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        const stuck = current
        void worker.terminate().then(() => {
          slow.push(`${stuck?.name ?? '(loading)'}: still running after ${WATCHDOG_MS} ms`)
          resolve({slow, stuckAt: stuck?.index ?? null, count})
        })
      }, WATCHDOG_MS)
    }
    worker.on('message', (m: Message) => {
      if (m.kind === 'count') count = m.count
      else if (m.kind === 'start') {
        current = {index: m.index, name: m.name}
        arm()
      } else if (m.kind === 'done') {
        if (m.ms > BOUND_MS) slow.push(`${m.name}: ${Math.round(m.ms)} ms`)
      } else {
        clearTimeout(timer)
        void worker.terminate().then(() => resolve({slow, stuckAt: null, count}))
      }
    })
    worker.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
}

describe('regular expressions on the request path', () => {
  it(`take linear time on hostile ${SIZE / 1000} KB inputs (guardrail patterns, redaction, plan parsing, the scripted model and its skills)`, async () => {
    const slow: string[] = []
    let from = 0
    let count = 0
    for (;;) {
      const r = await runFrom(from)
      slow.push(...r.slow)
      count = r.count
      // A handful of failures says enough; every stuck case costs the watchdog and a fresh worker.
      if (r.stuckAt === null || slow.length >= 5) break
      from = r.stuckAt + 1
    }
    expect(count).toBeGreaterThan(1000)
    expect(slow).toEqual([])
  }, 600_000)
})
