import {parentPort, workerData, type MessagePort} from 'node:worker_threads'
import {sendable, type SentError} from '../util/thread-error.js'
import type {TraceFilter} from '../store/api.js'
import {openStore} from '../store/sqlite.js'
import {groupByRequest} from './group.js'
import type {GroupTask, TaskFactory} from './task.js'

/**
 * The worker behind mapRun: one line range of a run, read through its own read-only connection,
 * through the task named in the job; facts go back in batches (one message per fact would cost
 * more than the facts), then the task's total, or the first error as its one-line message.
 */

export type WorkerJob = {
  file: string
  runId: string
  range: TraceFilter
  module: string
  name: string
  args: unknown
  /** Where the facts go, in batches (arrays), apart from the replies below. */
  facts: MessagePort
}

export type WorkerReply =
  | {kind: 'done'; partial: unknown}
  | {kind: 'error'; error: SentError}

const BATCH = 512

const port = parentPort!
const job = workerData as WorkerJob

async function main(): Promise<void> {
  const mod = (await import(job.module)) as Record<string, unknown>
  const factory = mod[job.name]
  if (typeof factory !== 'function') throw new Error(`${job.module} exports no task factory "${job.name}"`)
  const store = openStore(job.file, {readonly: true})
  let task: GroupTask<unknown, unknown> | undefined
  try {
    task = (factory as TaskFactory<unknown, unknown, unknown>)(job.args, job.range)
    let facts: unknown[] = []
    for (const group of groupByRequest(store.iterateTraces(job.runId, job.range))) {
      let fact = task.map(group)
      if (fact instanceof Promise) fact = await fact
      if (fact === undefined) continue
      facts.push(fact)
      if (facts.length >= BATCH) {
        job.facts.postMessage(facts)
        facts = []
      }
    }
    if (facts.length > 0) job.facts.postMessage(facts)
    port.postMessage({kind: 'done', partial: await task.finish()} satisfies WorkerReply)
  } finally {
    await task?.close?.()
    store.close()
    job.facts.close()
  }
}

main().catch((e: unknown) => {
  // Our errors carry the user-facing line; anything else is a bug, passed on with its stack.
  port.postMessage({kind: 'error', error: sendable(e)} satisfies WorkerReply)
})
