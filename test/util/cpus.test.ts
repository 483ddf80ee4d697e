import {describe, expect, it} from 'vitest'
import {usableCpus, type ReadSmallFile} from '../../src/util/cpus.js'

const files =
  (map: Record<string, string>): ReadSmallFile =>
  (file) =>
    map[file] ?? null

describe('usableCpus: the CPUs a process may keep busy (#21)', () => {
  it('is the CPUs it may run on when no control group sets a quota (v2 `max`, v1 -1, or no files)', () => {
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': 'max 100000\n'}), 16)).toBe(16)
    expect(usableCpus(files({'/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n'}), 16)).toBe(16)
    expect(usableCpus(files({}), 8)).toBe(8)
  })

  it('is bounded by a cgroup v2 quota, a fraction of a CPU counting as none', () => {
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': '200000 100000\n'}), 64)).toBe(2)
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': '350000 100000'}), 64)).toBe(3)
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': '50000 100000'}), 64)).toBe(1)
    // A quota above the CPUs there are changes nothing.
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': '800000 100000'}), 4)).toBe(4)
  })

  it('is bounded by a cgroup v1 quota, in either mount of the cpu controller', () => {
    expect(usableCpus(files({'/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000'}), 32)).toBe(4)
    expect(usableCpus(files({'/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000'}), 32)).toBe(1)
  })

  it('takes an unreadable quota as none', () => {
    expect(usableCpus(files({'/sys/fs/cgroup/cpu.max': 'garbage'}), 6)).toBe(6)
    expect(usableCpus(files({'/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000'}), 6)).toBe(6)
  })
})
