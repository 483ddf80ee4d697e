import {execFileSync} from 'node:child_process'
import {realpathSync} from 'node:fs'

/**
 * The commit a bench run measures, so a figure can be traced to the code it came from:
 * `git rev-parse --short HEAD`, with `-dirty` when a tracked file differs from it or that cannot be
 * checked (untracked files do not count, as for `git describe --dirty`), or `unknown` when `root` is not the top of a git
 * checkout (an unpacked tarball, a copy inside another repository) or git cannot be run.
 */
export function benchCommit(root: string): string {
  const git = (...args: string[]): string =>
    execFileSync('git', args, {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: gitEnv()}).trim()
  let commit: string
  try {
    if (realpathSync(git('rev-parse', '--show-toplevel')) !== realpathSync(root)) return 'unknown'
    commit = git('rev-parse', '--short', 'HEAD')
  } catch {
    return 'unknown'
  }
  try {
    return git('status', '--porcelain', '--untracked-files=no') === '' ? commit : `${commit}-dirty`
  } catch {
    return `${commit}-dirty`
  }
}

/** This process's environment without variables that would point git at another repository. */
function gitEnv(): NodeJS.ProcessEnv {
  const env = {...process.env}
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR']) delete env[name]
  return env
}
