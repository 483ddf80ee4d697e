import {existsSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync} from 'node:fs'
import path from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {FileWriteError, UnderstudyError} from '../../src/errors.js'
import {initScenario} from '../../src/init/init.js'
import {setFileIo} from '../../src/util/atomic-write.js'
import {removeTempDirs, tempDir} from '../factories/index.js'

/**
 * `initScenario` in process: what it writes on an Anthropic log of an IT help desk (a domain no
 * scenario has, and a format the CLI test does not use), and that nothing is left behind when it
 * refuses or fails half-way.
 */
const LOG_LINES = [
  {
    metadata: {tenant: 'globex', role: 'employee'},
    timestamp: '2026-03-01T08:00:00Z',
    request: {
      model: 'claude-sonnet-4-5',
      system: 'You are the Globex IT desk.',
      tools: [
        {name: 'lookup_employee', description: 'Find an employee by email.', input_schema: {type: 'object', properties: {email: {type: 'string'}}, required: ['email']}},
        {name: 'reset_password', description: 'Force a password reset.', input_schema: {type: 'object', properties: {employee_id: {type: 'string'}}, required: ['employee_id']}},
      ],
      messages: [
        {role: 'user', content: 'I am locked out, my email is kim@globex.test'},
        {role: 'assistant', content: [{type: 'tool_use', id: 'tu_1', name: 'lookup_employee', input: {email: 'kim@globex.test'}}]},
        {role: 'user', content: [{type: 'tool_result', tool_use_id: 'tu_1', content: '{"employee_id": "e7"}'}]},
        {role: 'assistant', content: [{type: 'tool_use', id: 'tu_2', name: 'reset_password', input: {employee_id: 'e7'}}]},
        {role: 'user', content: [{type: 'tool_result', tool_use_id: 'tu_2', content: '{"ok": true}'}]},
      ],
      metadata: {user_id: 'kim'},
    },
    response: {id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{type: 'text', text: 'Done: check your email for the reset link.'}], stop_reason: 'end_turn', usage: {input_tokens: 700, output_tokens: 60}},
  },
]

function logFile(): string {
  const file = path.join(tempDir(), 'messages.jsonl')
  writeFileSync(file, LOG_LINES.map((l) => JSON.stringify(l)).join('\n') + '\n')
  return file
}

let restore: (() => void) | undefined
afterEach(() => {
  restore?.()
  restore = undefined
})
afterAll(removeTempDirs)

describe('initScenario', () => {
  it('writes a scenario folder whose files say what was imported and guessed', async () => {
    const parent = tempDir()
    const dir = path.join(parent, 'helpdesk')
    const result = await initScenario({dir, from: 'anthropic', file: logFile()})
    expect(result.requests).toBe(1)
    expect(readdirSync(parent)).toEqual(['helpdesk']) // no temporary directory left beside it
    expect(result.files.every((f) => existsSync(path.join(dir, f)))).toBe(true)
    expect(readFileSync(path.join(dir, 'v1/prompts/system.md'), 'utf8')).toBe('You are the Globex IT desk.\n')
    const scenario = readFileSync(path.join(dir, 'scenario.yaml'), 'utf8')
    expect(scenario.split('\n')[0]).toBe('# yaml-language-server: $schema=schemas/scenario.schema.json')
    expect(parse(scenario)).toMatchObject({traffic: 'traffic.jsonl', baseline: 'v1', candidate: 'v1', model: 'recorded'})
    const manifest = parse(readFileSync(path.join(dir, 'v1/bundle.yaml'), 'utf8'))
    expect(manifest.model).toMatchObject({provider: 'ollama', name: 'claude-sonnet-4-5'})
    expect(manifest.tools.map((t: {name: string; risk: string}) => [t.name, t.risk])).toEqual([
      ['lookup_employee', 'read'],
      ['reset_password', 'write_high'],
    ])
    expect(manifest.policies.map((p: {id: string; roles: string[]}) => [p.id, p.roles])).toEqual([
      ['allow-lookup_employee', ['employee']],
      ['allow-reset_password', ['employee']],
    ])
    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8')
    expect(readme).toContain('reset_password: write_high')
    expect(readme).toContain('×1.5, rounded up')
    expect(readme).toContain(`understudy shadow --scenario ${dir}`)
  })

  it('refuses a folder that is not empty, before reading the log', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'notes.txt'), 'mine')
    await expect(initScenario({dir, from: 'anthropic', file: path.join(dir, 'absent.jsonl')})).rejects.toThrow(`${dir}: not empty; init writes only into a new or empty directory (nothing was written)`)
    expect(readdirSync(dir)).toEqual(['notes.txt'])
  })

  it('fills an empty folder that exists in place (it may be the shell\'s current directory)', async () => {
    const dir = tempDir()
    const inode = statSync(dir).ino
    await initScenario({dir, from: 'anthropic', file: logFile()})
    expect(statSync(dir).ino).toBe(inode)
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'scenario.yaml', 'schemas', 'traffic.jsonl', 'v1'])
  })

  it('leaves nothing when a write fails half-way (a full disk on the fourth file)', async () => {
    const parent = tempDir()
    const dir = path.join(parent, 'helpdesk')
    let opened = 0
    restore = setFileIo({
      writeSync: (fd, buffer, offset, length) => {
        if (++opened === 4) throw Object.assign(new Error('no space left on device'), {code: 'ENOSPC'})
        return writeSync(fd, buffer, offset, length)
      },
    })
    await expect(initScenario({dir, from: 'anthropic', file: logFile()})).rejects.toBeInstanceOf(FileWriteError)
    expect(readdirSync(parent)).toEqual([])
  })

  it('writes nothing when no request can be imported, naming the first problem', async () => {
    const parent = tempDir()
    const file = path.join(parent, 'bad.jsonl')
    writeFileSync(file, '{"request": {"messages": []}}\n')
    const dir = path.join(parent, 'out')
    const error = await initScenario({dir, from: 'anthropic', file}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnderstudyError)
    expect((error as Error).message).toMatch(/^.*bad\.jsonl: no request could be imported from 1 unit\(s\) \(first problem: .*bad\.jsonl:1: .*nothing was written$/)
    expect(readdirSync(parent)).toEqual(['bad.jsonl'])
  })
})
