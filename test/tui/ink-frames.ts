import type {render} from 'ink-testing-library'

/** Keys as a terminal sends them. */
export const ENTER = '\r'
export const ESC = '\u001B'
export const DOWN = '\u001B[B'

// eslint-disable-next-line no-control-regex
export const strip = (s: string): string => s.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '')

export type Inst = ReturnType<typeof render>

/** Waits (a few event-loop turns at most) for Ink to show a frame that passes `check`; returns the last frame either way. */
export async function frameWhere(inst: Inst, check: (frame: string) => boolean): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const f = strip(inst.lastFrame() ?? '')
    if (check(f)) return f
    await new Promise((r) => setTimeout(r, 5))
  }
  return strip(inst.lastFrame() ?? '')
}

export const frameWith = (inst: Inst, text: string): Promise<string> => frameWhere(inst, (f) => f.includes(text))

export async function press(inst: Inst, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    inst.stdin.write(k)
    // A lone ESC is held for one turn in case an escape sequence follows.
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
  }
}
