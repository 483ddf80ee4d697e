import type {TraceFilter} from '../store/api.js'
import type {TraceGroup} from './group.js'

/**
 * A job over a run's requests that `mapRun` can split by line range across worker threads: each
 * range gets its own task instance, fed that range's requests in line order. What a task hands
 * back crosses a thread boundary, so facts and totals must be plain structured-cloneable data.
 */
export type GroupTask<F, P> = {
  /** One request's traces; a fact to hand back (in line order), or undefined for none. */
  map(group: TraceGroup): F | undefined | Promise<F | undefined>
  /** What the task totalled over its range, handed back once, after its last fact. */
  finish(): P | Promise<P>
  /** Releases what the task holds (an open file); called whether the range finished or failed. */
  close?(): Promise<void>
}

/** Makes the task of one range: `range` is the lines it reads (no `fromLine`: from the run's first line). */
export type TaskFactory<A, F, P> = (args: A, range: TraceFilter) => GroupTask<F, P>

/**
 * How a worker finds a task: the module's URL and the factory's export name, plus the factory
 * itself for the in-process path. Made with `taskRef`, in the module that exports the factory.
 * `read` says how the task's traces are read, the same for every range (`guardrails: 'failed'`
 * for a task that looks at failing guardrail results only, as every diff does).
 */
export type TaskRef<A, F, P> = {module: string; name: string; factory: TaskFactory<A, F, P>; args: A; read?: TaskRead}

export type TaskRead = Pick<TraceFilter, 'guardrails'>

export function taskRef<A, F, P>(module: string, name: string, factory: TaskFactory<A, F, P>, args: A, read: TaskRead = {}): TaskRef<A, F, P> {
  return {module, name, factory, args, read}
}
