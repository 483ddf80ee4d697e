import {cpSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {startShadow} from '../../src/shadow/run.js'
import {ShadowOptions} from '../../src/store/run-config.js'
import {openStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * A run started in one directory with relative paths (traffic, bundles, fixtures, skill, cassette)
 * and resumed from another: the stored run config holds every path absolute, so `--resume` finds
 * the very same files whatever the working directory.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')

afterEach(() => removeTempDirs())

describe('--resume from another working directory', () => {
  it('finds every input of the run, and finishes it', async () => {
    const a = tempDir('understudy-dir-a-')
    const b = tempDir('understudy-dir-b-')
    mkdirSync(path.join(a, 'in'))
    writeFileSync(path.join(a, 'in', 'traffic.jsonl'), readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 40).join('\n') + '\n')
    for (const f of ['v1', 'v2', 'fixtures.yaml']) cpSync(path.join(scenario, f), path.join(a, 'in', f), {recursive: true})
    const db = path.join(a, 'u.db')
    const relative = {
      traffic: 'in/traffic.jsonl',
      candidate: 'in/v2',
      baseline: 'in/v1',
      fixtures: 'in/fixtures.yaml',
      record_cassette: 'out/cassette.jsonl',
      skills: [path.relative(a, path.join(scenario, 'skill', 'index.ts'))],
    }

    const here = process.cwd()
    const store = openStore(db)
    let runId: string
    try {
      process.chdir(a)
      const controller = new AbortController()
      const first = await startShadow({...relative, concurrency: 2}, store, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.requests >= 5) controller.abort()
        },
      })
      expect(first.run.status).toBe('interrupted')
      runId = first.run.id
      const config = ShadowOptions.parse(first.run.config)
      expect(config).toMatchObject({
        traffic: path.join(a, 'in', 'traffic.jsonl'),
        candidate: path.join(a, 'in', 'v2'),
        baseline: path.join(a, 'in', 'v1'),
        fixtures: path.join(a, 'in', 'fixtures.yaml'),
        record_cassette: path.join(a, 'out', 'cassette.jsonl'),
        skills: [path.join(scenario, 'skill', 'index.ts')],
      })
      expect(first.run.traffic_file).toBe(path.join(a, 'in', 'traffic.jsonl'))
    } finally {
      process.chdir(here)
      store.close()
    }

    const r = await runCli(['shadow', '--resume', runId, '--db', db, '--json'], {cwd: b})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).run.status).toBe('completed')
    const after = openStore(db)
    try {
      expect(after.countTraces(runId, {side: 'candidate'})).toBe(40)
      expect(after.countTraces(runId, {side: 'baseline'})).toBe(40)
    } finally {
      after.close()
    }
    // The cassette went on growing where the run started, not in b.
    expect(readFileSync(path.join(a, 'out', 'cassette.jsonl'), 'utf8').split('\n').length).toBeGreaterThan(40)
    // Reading the run from b finds its traffic too (golden expectations of the shipped traffic).
    const report = JSON.parse((await runCli(['report', runId, '--db', db, '--format', 'json'], {cwd: b})).stdout)
    expect(report.scorecard.dimensions.find((d: {name: string}) => d.name === 'quality').metrics.map((m: {label: string}) => m.label)).toContain(
      'golden expectations passing',
    )
  })
})
