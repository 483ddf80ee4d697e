import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {RECIPE as INJECTION} from '../../scenarios/drill-injection-email/make-traffic.js'
import {RECIPE as REFUND} from '../../scenarios/drill-refund-regression/make-traffic.js'
import {subset, type Recipe} from '../../scenarios/lib/make-traffic.js'
import {repoRoot} from '../helpers/cli.js'

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '')

describe('drill traffic is cut from the current support-refunds traffic', () => {
  // A regenerated support-refunds file without its drills regenerated would leave them replaying stale requests.
  const source = lines(path.join(repoRoot, 'scenarios', 'support-refunds', 'traffic.jsonl'))
  it.each([
    ['drill-refund-regression', REFUND],
    ['drill-injection-email', INJECTION],
  ] as [string, Recipe][])('%s', (name, recipe) => {
    expect(lines(path.join(repoRoot, 'scenarios', name, 'traffic.jsonl'))).toEqual(subset(source, recipe))
  })
})
