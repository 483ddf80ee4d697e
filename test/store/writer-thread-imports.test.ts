import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src')

/**
 * The modules a source file loads when it runs: its imports and re-exports that are not
 * type-only (`import type`, `export type`, or every name marked `type`), followed through src/.
 * Packages are kept by name. Only the forms this code base writes (one statement per import).
 */
function runtimeImports(entry: string): Set<string> {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    if (!file.startsWith(SRC)) return
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'([^']+)'/gms)) {
      const [, , typeOnly, names, spec] = m
      if (typeOnly !== undefined) continue
      const braced = /^\{([^}]*)\}$/s.exec(names!.trim())
      if (braced && braced[1]!.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '))) continue
      if (!spec!.startsWith('.')) {
        seen.add(spec!.split('/')[0]!)
        continue
      }
      visit(path.resolve(path.dirname(file), spec!.replace(/\.js$/, '.ts')))
    }
    for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) if (!m[1]!.startsWith('.')) seen.add(m[1]!)
  }
  visit(path.join(SRC, entry))
  return seen
}

describe('the trace writer thread', () => {
  // Every run starts one; what it loads is start-up CPU of every run (zod alone was ~0.1 s).
  it('loads the traces table and SQLite, not zod or the rest of the store', () => {
    const loaded = runtimeImports('store/trace-writer-worker.ts')
    expect(loaded.has('better-sqlite3')).toBe(true)
    expect(loaded.has(path.join(SRC, 'store/traces-repo.ts'))).toBe(true)
    expect(loaded.has('zod')).toBe(false)
    expect(loaded.has(path.join(SRC, 'store/sqlite.ts'))).toBe(false)
  })

  it('would see zod where a module loads it (the walk follows imports through src/)', () => {
    const loaded = runtimeImports('store/sqlite.ts')
    expect(loaded.has(path.join(SRC, 'store/api.ts'))).toBe(true)
    expect(loaded.has('zod')).toBe(true)
  })
})
