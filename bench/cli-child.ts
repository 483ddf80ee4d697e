/**
 * Runs the understudy CLI in this process, exactly as bin/run.js does, then reports this process's
 * own peak RSS (process.resourceUsage().maxRSS, KiB) and wall time as one JSON line to the file
 * named by BENCH_REPORT. The bench spawns it so each measured command has its own process and its
 * own peak memory, without relying on /usr/bin/time.
 *
 *   BENCH_REPORT=/tmp/x.json node dist/bench/cli-child.js shadow traffic.jsonl --candidate …
 */
import {execute} from '@oclif/core'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {repoRoot} from './workspace.js'

const t0 = performance.now()
const report = process.env.BENCH_REPORT
process.on('exit', (code) => {
  if (!report) return
  const usage = process.resourceUsage()
  writeFileSync(
    report,
    JSON.stringify({code, wall_s: (performance.now() - t0) / 1000, max_rss_kb: usage.maxRSS, user_s: usage.userCPUTime / 1e6, system_s: usage.systemCPUTime / 1e6}) + '\n',
  )
})
await execute({dir: pathToFileURL(path.join(repoRoot(), 'bin', 'run.js')).href, args: process.argv.slice(2)})
