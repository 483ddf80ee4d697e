import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {benchCommit} from '../../bench/commit.js'

describe('benchCommit', () => {
  let dir: string
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], {cwd: dir, encoding: 'utf8'}).trim()

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'understudy-commit-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  function repoWithOneCommit(): string {
    git('init', '-q')
    writeFileSync(path.join(dir, 'a.txt'), 'one\n')
    git('add', 'a.txt')
    git('commit', '-q', '-m', 'one')
    return git('rev-parse', '--short', 'HEAD')
  }

  it('is the short hash of HEAD in a clean checkout', () => {
    const head = repoWithOneCommit()
    expect(head).toMatch(/^[0-9a-f]{7,}$/)
    expect(benchCommit(dir)).toBe(head)
  })

  it('ignores untracked files', () => {
    const head = repoWithOneCommit()
    writeFileSync(path.join(dir, 'new.txt'), 'untracked\n')
    expect(benchCommit(dir)).toBe(head)
  })

  it('adds -dirty when a tracked file is modified or staged', () => {
    const head = repoWithOneCommit()
    writeFileSync(path.join(dir, 'a.txt'), 'two\n')
    expect(benchCommit(dir)).toBe(`${head}-dirty`)
    git('add', 'a.txt')
    expect(benchCommit(dir)).toBe(`${head}-dirty`)
  })

  it('is unknown outside a git checkout', () => {
    expect(benchCommit(dir)).toBe('unknown')
  })

  it('is unknown in a repository without a commit yet', () => {
    git('init', '-q')
    expect(benchCommit(dir)).toBe('unknown')
  })

  it('is unknown for a folder inside another repository', () => {
    repoWithOneCommit()
    const inner = path.join(dir, 'copy')
    mkdirSync(inner)
    expect(benchCommit(inner)).toBe('unknown')
  })
})
