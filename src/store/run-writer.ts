import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import type {RunWriter} from './api.js'

/**
 * One writer per run. A writer claims the run in the store (table `run_writers`, src/store/schema.ts) before
 * it reads which traces are stored or writes any, and releases the claim when it sets the run's
 * final status. A second process finds the claim and refuses while its holder is alive; a claim
 * whose holder is gone (kill -9, crash, power loss) is stale, so a dead writer never blocks a
 * later `--resume`.
 *
 * Alive means: on this host, the pid exists, is not a zombie, and (where the OS says when it
 * started) started when the claim says, so a pid reused by another process does not count. On
 * another host the pid cannot be checked, so the claim counts while its heartbeat is recent.
 */

/** How often a writer renews its claim's heartbeat. */
export const HEARTBEAT_MS = 10_000
/** A claim from another host whose heartbeat is older than this is stale (several missed heartbeats). */
export const REMOTE_STALE_MS = 60_000

/** A fresh claim for this process. */
export function thisWriter(now: Date = new Date()): RunWriter {
  const at = now.toISOString()
  return {
    token: randomBytes(12).toString('hex'),
    pid: process.pid,
    host: hostname(),
    pid_start: processStart(process.pid),
    claimed_at: at,
    heartbeat_at: at,
  }
}

/** Whether the claim's holder may still be writing (see above). `host` is this host's name. */
export function writerAlive(w: RunWriter, now: Date = new Date(), host: string = hostname()): boolean {
  if (w.host !== host) return now.getTime() - Date.parse(w.heartbeat_at) < REMOTE_STALE_MS
  if (!pidExists(w.pid)) return false
  const stat = procStat(w.pid)
  // No /proc (not Linux): the pid existing is all there is to go on.
  if (stat === null) return true
  if (stat.state === 'Z' || stat.state === 'X') return false
  return w.pid_start === null || w.pid_start === stat.start
}

/** Linux: `<boot id>:<start tick>`, unique to one process for as long as the machine is up; else null. */
export function processStart(pid: number): string | null {
  return procStat(pid)?.start ?? null
}

function pidExists(pid: number): boolean {
  // 0 and negative pids name process groups, not a process.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists, owned by another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

let bootId: string | undefined

function procStat(pid: number): {state: string; start: string} | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last `)`.
  // Fields from there on are numbered from 3; starttime is field 22.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const start = fields[19]
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return null
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    } catch {
      bootId = ''
    }
  }
  return {state, start: `${bootId}:${start}`}
}
