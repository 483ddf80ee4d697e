import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {fixtureBundle} from '../factories/index.js'
import {repoRoot, runCli, runCliProcess, type CliResult} from '../helpers/cli.js'

/**
 * The other CLI tests run commands in the test worker (runCli); these run the real binary,
 * bin/run.js in its own process, once per command family, and check that the in-process runner
 * gives the very same exit code, stdout and stderr. That keeps both honest: the binary starts and
 * routes every family, and what the in-process tests assert is what a user of the binary sees,
 * including the exit-code paths (process.exitCode, BaseCommand's one-line errors, oclif's own
 * parse and not-found errors rendered by its handle()). The cases share one worker in this order on
 * purpose: help runs before commands of the same topic, as oclif's help used to leave the loaded
 * commands renamed for the runs after it.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-smoke-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const db = (name: string) => path.join(dir, `${name}.db`)

type Case = {name: string; args: string[]; code: number; stdout?: RegExp; stderr?: RegExp}

const cases: Case[] = [
  {name: 'version', args: ['--version'], code: 0, stdout: /^understudy\/0\.1\.0 /},
  {name: 'root help', args: ['--help'], code: 0, stdout: /TOPICS[\s\S]*bundle[\s\S]*COMMANDS[\s\S]*shadow/},
  {name: 'topic help', args: ['budget'], code: 0, stdout: /budget check/},
  {name: 'unknown command (src/cli/not-found.ts)', args: ['no-such-command'], code: 127, stderr: /no-such-command is not a command/},
  {name: 'bundle: success', args: ['bundle', 'hash', fixtureBundle('refunds-v1')], code: 0, stdout: /^refunds@1\.0\.0#[0-9a-f]+\n$/},
  {name: 'bundle: exit code set by the command', args: ['bundle', 'diff', fixtureBundle('refunds-v1'), fixtureBundle('refunds-v2'), '--exit-code'], code: 1, stdout: /== policies ==/},
  {name: 'traffic: one-line error', args: ['traffic', 'validate', path.join(dir, 'missing.jsonl')], code: 1, stderr: /^understudy: .*missing\.jsonl/},
  {name: 'budget: effective budgets of a bundle', args: ['budget', 'show', fixtureBundle('refunds-v1')], code: 0, stdout: /max_steps = 8/},
  {name: 'runs: empty store', args: ['runs', 'list', '--db', db('runs'), '--json'], code: 0, stdout: /"runs": \[\]/},
  {name: 'trace: unknown run', args: ['trace', 'export', 'rnope', '--otlp', path.join(dir, 'o.json'), '--db', db('trace')], code: 1, stderr: /rnope/},
  {name: 'incident: missing arguments (a usage error)', args: ['incident', 'kill-switch'], code: 2, stderr: /^understudy: missing arguments BUNDLEDIR \(bundle directory\), TOOL .*; see `understudy incident kill-switch --help`\n$/},
  {name: 'rollout: empty history', args: ['rollout', 'history', '--db', db('rollout')], code: 0},
  {name: 'eval: flag out of range', args: ['eval', 'rnope', '--min-pass', '2', '--db', db('eval')], code: 1, stderr: /^understudy: .*min-pass/},
  {name: 'diff: missing store', args: ['diff', 'rnope', '--db', db('absent')], code: 1, stderr: /^understudy: /},
]

const outcome = (r: CliResult) => ({code: r.code, stdout: r.stdout, stderr: r.stderr})

describe('the built binary, out of process, against the in-process runner', () => {
  it.each(cases)('$name', async ({args, code, stdout, stderr}) => {
    const binary = await runCliProcess(args)
    expect(binary.signal).toBeNull()
    expect(binary.code).toBe(code)
    if (stdout) expect(binary.stdout).toMatch(stdout)
    if (stderr) expect(binary.stderr).toMatch(stderr)
    expect(outcome(await runCli(args))).toEqual(outcome(binary))
  }, 60_000)

  it('runs in the working directory it is given and reads stdin as a pipe', async () => {
    const r = await runCliProcess(['bundle', 'hash', path.relative(dir, fixtureBundle('refunds-v1'))], {cwd: dir, input: 'ignored\n'})
    expect(r.code).toBe(0)
    expect(outcome(await runCli(['bundle', 'hash', path.relative(dir, fixtureBundle('refunds-v1'))], {cwd: dir}))).toEqual(outcome(r))
    expect(process.cwd()).toBe(repoRoot)
  }, 60_000)
})
