import {randomBytes} from 'node:crypto'

/**
 * Run ids sort by start time and stay short enough to type: `r20261125T143012-3fa9c1`
 * (UTC second, then 6 random hex digits so that runs started in the same second differ).
 */
export function newRunId(now: Date = new Date(), random: () => string = () => randomBytes(3).toString('hex')): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '')
  return `r${stamp}-${random()}`
}

export const RUN_ID_PATTERN = /^r\d{8}T\d{6}-[0-9a-f]{6}$/
