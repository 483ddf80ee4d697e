import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

const made: string[] = []

/** A fresh directory under the OS temp dir; removeTempDirs() removes it (call it in afterEach/afterAll). */
export function tempDir(prefix = 'understudy-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** Removes every directory tempDir() made in this test file so far. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, {recursive: true, force: true})
}
