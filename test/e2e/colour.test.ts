import {describe, expect, it} from 'vitest'
import {colourWanted} from '../../src/cli/colour.js'
import {runCli} from '../helpers/cli.js'

const ANSI = /\u001b\[[0-9;]*m/

describe('colourWanted', () => {
  it('colours a terminal only, unless told otherwise', () => {
    expect(colourWanted({isTTY: true}, {})).toBe(true)
    expect(colourWanted({isTTY: false}, {})).toBe(false)
    expect(colourWanted({}, {})).toBe(false)
  })

  it('never colours with NO_COLOR set to anything but the empty string, even when forced', () => {
    expect(colourWanted({isTTY: true}, {NO_COLOR: '1'})).toBe(false)
    expect(colourWanted({isTTY: true}, {NO_COLOR: '1', FORCE_COLOR: '1'})).toBe(false)
    expect(colourWanted({isTTY: true}, {NO_COLOR: ''})).toBe(true)
  })

  it('colours with FORCE_COLOR set (other than 0 or false), even when not a terminal', () => {
    expect(colourWanted({isTTY: false}, {FORCE_COLOR: '1'})).toBe(true)
    expect(colourWanted({}, {FORCE_COLOR: ''})).toBe(true)
    expect(colourWanted({isTTY: false}, {FORCE_COLOR: '3'})).toBe(true)
  })

  it('does not colour with FORCE_COLOR=0 or false, even on a terminal', () => {
    expect(colourWanted({isTTY: true}, {FORCE_COLOR: '0'})).toBe(false)
    expect(colourWanted({isTTY: true}, {FORCE_COLOR: 'false'})).toBe(false)
  })
})

describe('the colour rule in commands', () => {
  // A run-free command that colours: `bundle diff` of two bundles that differ.
  const diff = (env: Record<string, string>) => runCli(['bundle', 'diff', 'scenarios/support-refunds/v1', 'scenarios/support-refunds/v2'], {env})

  it('NO_COLOR set: no ANSI', async () => {
    const r = await diff({NO_COLOR: '1', FORCE_COLOR: '1'})
    expect(r.code).toBe(0)
    expect(r.stdout).not.toMatch(ANSI)
  })

  it('FORCE_COLOR=1: ANSI although stdout is not a terminal', async () => {
    const r = await diff({NO_COLOR: '', FORCE_COLOR: '1'})
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(ANSI)
  })

  it('FORCE_COLOR=0: none', async () => {
    const r = await diff({NO_COLOR: '', FORCE_COLOR: '0'})
    expect(r.code).toBe(0)
    expect(r.stdout).not.toMatch(ANSI)
  })
})
