import {readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'

/** Reads a small system file, or null when it is not there (another OS, another cgroup version). */
export type ReadSmallFile = (file: string) => string | null

const readQuietly: ReadSmallFile = (file) => {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/**
 * CPUs this process may keep busy: the CPUs it may run on (os.availableParallelism), bounded by a
 * CPU quota of its control group — a container limited to 2 CPUs on a 64-CPU host sees 64 CPUs but
 * gets the time of 2, and threads sized for 64 would only take turns. cgroup v2 (`cpu.max`: quota
 * and period, or `max`) and v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, -1 for none); a quota of
 * 1.5 CPUs counts as 1. At least 1.
 */
export function usableCpus(read: ReadSmallFile = readQuietly, cpus = availableParallelism()): number {
  const quota = cgroupQuota(read)
  return Math.max(1, quota === null ? cpus : Math.min(cpus, Math.floor(quota)))
}

/** The control group's CPU quota in CPUs, or null when it sets none. */
function cgroupQuota(read: ReadSmallFile): number | null {
  const v2 = read('/sys/fs/cgroup/cpu.max')
  if (v2 !== null) {
    const [quota, period] = v2.trim().split(/\s+/)
    return ratio(quota, period)
  }
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = read(`${dir}/cpu.cfs_quota_us`)
    if (quota !== null) return ratio(quota.trim(), read(`${dir}/cpu.cfs_period_us`)?.trim())
  }
  return null
}

function ratio(quota: string | undefined, period: string | undefined): number | null {
  const q = Number(quota)
  const p = Number(period)
  // `max` (v2) and -1 (v1) say there is no quota; anything unreadable is taken as none.
  if (!Number.isFinite(q) || q <= 0 || !Number.isFinite(p) || p <= 0) return null
  return q / p
}
