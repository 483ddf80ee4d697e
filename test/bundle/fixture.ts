import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parse, stringify} from 'yaml'
import {repoRoot} from '../helpers/cli.js'

export const fixturesDir = path.join(repoRoot, 'test', 'fixtures', 'bundles')
export const fixture = (name: string) => path.join(fixturesDir, name)

const tempDirs: string[] = []

/** A fresh temp dir; removed by cleanupTemp(). */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'understudy-bundle-'))
  tempDirs.push(dir)
  return dir
}

export function cleanupTemp(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, {recursive: true, force: true})
}

/** The refunds-v1 manifest as a plain object, to mutate in a test. */
export function baseManifest(): Record<string, any> {
  return parse(readFileSync(path.join(fixture('refunds-v1'), 'bundle.yaml'), 'utf8'))
}

/**
 * Copies refunds-v1 into a temp dir, lets the test change its manifest, and writes it back
 * (as YAML, or JSON with `as: 'json'`). Returns the bundle dir.
 */
export function bundleWith(mutate: (m: Record<string, any>) => void, opts: {as?: 'yaml' | 'json'} = {}): string {
  const dir = path.join(tempDir(), 'b')
  cpSync(fixture('refunds-v1'), dir, {recursive: true})
  const m = baseManifest()
  mutate(m)
  rmSync(path.join(dir, 'bundle.yaml'))
  if (opts.as === 'json') writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(m, null, 2))
  else writeFileSync(path.join(dir, 'bundle.yaml'), stringify(m))
  return dir
}
