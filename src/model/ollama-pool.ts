import {ModelError, ValidationError} from '../errors.js'
import {normalizeOllamaHost} from './ollama.js'

/**
 * Several Ollama servers behind one run (`--ollama-host a,b,c`). Each model call goes to the least
 * busy server (fewest calls in flight, then fewest calls so far, then the order given), so faster
 * servers take more calls without any weights to tune. A server whose call fails the way a server
 * fails (unreachable, an HTTP 5xx, an answer that is not Ollama's, a model it lacks, a timeout) is
 * taken out and the call is retried on another; a server taken out is tried again (one probe call)
 * after PROBE_AFTER_MS, doubling while it keeps failing. A call fails only when every server has
 * failed it, with the last server's error. What the answer itself gets wrong (too large, cut off)
 * is the model's, not the server's: it is not retried elsewhere.
 *
 * Calls are counted per server for the run summary.
 */

export const PROBE_AFTER_MS = 2_000
const MAX_PROBE_AFTER_MS = 60_000

export type ServerCalls = {
  host: string
  /** Calls this server answered. */
  calls: number
  /** Calls (and model checks before the run) that failed on this server; each call then tried on another, unless none was left. */
  failed: number
  /** Out of rotation when the run ended. */
  down: boolean
}

type HostState = {
  host: string
  inFlight: number
  calls: number
  failed: number
  /** Epoch ms from which a down server gets a probe call; null while up. */
  retryAt: number | null
  backoffMs: number
  probing: boolean
  /** The model's name as this server lists it, by the name asked for (preflight). */
  names: Map<string, string>
}

export type OllamaPoolOptions = {probeAfterMs?: number; now?: () => number}

/** `a,b,c` → the servers, each normalized as --ollama-host is; null when the flag names one server. */
export function parseOllamaHosts(flag: string | null | undefined): string[] | null {
  if (flag === null || flag === undefined || !flag.includes(',')) return null
  const hosts = flag.split(',').map((h) => h.trim())
  if (hosts.some((h) => h === '')) throw new ValidationError([`--ollama-host "${flag}": an empty server in the list; use a,b,c`])
  const normalized = hosts.map((h) => normalizeOllamaHost(h, '--ollama-host'))
  const twice = normalized.find((h, i) => normalized.indexOf(h) !== i)
  if (twice !== undefined) throw new ValidationError([`--ollama-host "${flag}": ${twice} is named twice`])
  return normalized
}

export class OllamaPool {
  private readonly servers: HostState[]
  private readonly probeAfterMs: number
  private readonly now: () => number
  private readonly preflights = new Map<string, Promise<void>>()

  constructor(hosts: readonly string[], opts: OllamaPoolOptions = {}) {
    if (hosts.length === 0) throw new ValidationError(['--ollama-host: no server named'])
    this.servers = hosts.map((host) => ({host, inFlight: 0, calls: 0, failed: 0, retryAt: null, backoffMs: 0, probing: false, names: new Map()}))
    this.probeAfterMs = opts.probeAfterMs ?? PROBE_AFTER_MS
    this.now = opts.now ?? Date.now
  }

  get hosts(): string[] {
    return this.servers.map((s) => s.host)
  }

  /**
   * Checks every server for `model` once (`check` is preflightOllama), in parallel. A server that
   * fails its check starts out of rotation (and is probed later, as after a failed call); the run
   * cannot start only when every server fails, with the first server's error.
   */
  preflight(model: string, check: (host: string) => Promise<string>): Promise<void> {
    let done = this.preflights.get(model)
    if (done === undefined) {
      done = (async () => {
        const results = await Promise.allSettled(this.servers.map((s) => check(s.host)))
        results.forEach((r, i) => {
          const s = this.servers[i]!
          if (r.status === 'fulfilled') s.names.set(model, r.value)
          else {
            s.failed++
            this.takeOut(s)
          }
        })
        if (results.every((r) => r.status === 'rejected')) throw (results[0] as PromiseRejectedResult).reason
      })()
      this.preflights.set(model, done)
    }
    return done
  }

  /** The name `model` has on `host` (as its preflight found it), else `model`. */
  nameOn(host: string, model: string): string {
    return this.servers.find((s) => s.host === host)?.names.get(model) ?? model
  }

  /** Runs `call` on the least busy server, and on the next one after a server failure. */
  async run<T>(call: (host: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const tried = new Set<HostState>()
    for (;;) {
      const s = this.pick(tried)
      if (s === undefined) throw new ModelError('unreachable', `every Ollama server is out of rotation (${this.hosts.join(', ')})`)
      tried.add(s)
      const probe = s.retryAt !== null
      if (probe) s.probing = true
      s.inFlight++
      try {
        const answer = await call(s.host)
        s.calls++
        s.retryAt = null
        s.backoffMs = 0
        return answer
      } catch (e) {
        if (signal?.aborted || !serverFailure(e)) throw e
        s.failed++
        this.takeOut(s)
        if (tried.size >= this.servers.length) throw e
      } finally {
        s.inFlight--
        if (probe) s.probing = false
      }
    }
  }

  stats(): ServerCalls[] {
    return this.servers.map((s) => ({host: s.host, calls: s.calls, failed: s.failed, down: s.retryAt !== null}))
  }

  /**
   * Among the servers this call has not tried: a down one whose probe is due (one probe at a time,
   * so a server back up rejoins at once), else the least busy up one, else, as the last resort, a
   * down one (earliest due first): a call fails only once every server has failed it.
   */
  private pick(tried: ReadonlySet<HostState>): HostState | undefined {
    const now = this.now()
    const untried = this.servers.filter((s) => !tried.has(s))
    const byLoad = (a: HostState, b: HostState): number => a.inFlight - b.inFlight || a.calls - b.calls
    const due = untried.filter((s) => s.retryAt !== null && s.retryAt <= now && !s.probing)
    if (due.length > 0) return due[0]
    const up = untried.filter((s) => s.retryAt === null).sort(byLoad)
    if (up.length > 0) return up[0]
    return untried.sort((a, b) => a.retryAt! - b.retryAt!)[0]
  }

  private takeOut(s: HostState): void {
    s.backoffMs = s.backoffMs === 0 ? this.probeAfterMs : Math.min(MAX_PROBE_AFTER_MS, s.backoffMs * 2)
    s.retryAt = this.now() + s.backoffMs
  }
}

/** Errors that say the server, not the request, is at fault: worth the same call on another server. */
function serverFailure(e: unknown): boolean {
  if (!(e instanceof ModelError)) return false
  return e.code === 'unreachable' || e.code === 'server_error' || e.code === 'malformed' || e.code === 'model_missing' || e.code === 'timeout'
}

/** One line of the run summary: calls per server. */
export function formatServerCalls(servers: readonly ServerCalls[]): string {
  return servers.map((s) => `${s.host} ${s.calls} calls${s.failed > 0 ? ` (${s.failed} failed${s.down ? ', out of rotation' : ''})` : s.down ? ' (out of rotation)' : ''}`).join(', ')
}
