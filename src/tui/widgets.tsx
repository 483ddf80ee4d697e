import {Box, useInput, useStdout, type Key} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {createContext, useContext, useEffect, useRef, useState} from 'react'
import type {EntryClass} from './entries.js'
import type {KeyHelp} from './key-table.js'
import {oneLine} from './text.js'

export type Size = {columns: number; rows: number}

export type KeyHandler = (input: string, key: Key) => void

type KeySlots = {screen: KeyHandler | null; overlay: KeyHandler | null}

const KeysContext = createContext<{current: KeySlots} | null>(null)

/**
 * Routes keys to whichever screen rendered last, or to an overlay (the help screen) while one is
 * open. Ink subscribes a `useInput` handler in an effect, after the render commits; a screen that
 * has just been mounted would miss keys typed before that. One handler subscribed for the app's
 * lifetime, reading the screen's handler from a ref set during render, misses none.
 * `onKey` sees every key first (the app clears its notice line with it).
 */
export function KeyRouter({children, onKey}: {children: React.ReactNode; onKey?: () => void}): React.JSX.Element {
  const slots = useRef<KeySlots>({screen: null, overlay: null})
  const route: KeyHandler = (input, key) => {
    onKey?.()
    const s = slots.current
    ;(s.overlay ?? s.screen)?.(input, key)
  }
  useInput((input, key) => {
    // A burst of keys (typed fast, a held key, tmux send-keys, a paste) arrives as one string;
    // each screen handles keys one at a time.
    const chars = [...input]
    if (chars.length > 1 && !key.ctrl && !key.meta) {
      for (const c of chars) {
        const enter = c === '\r' || c === '\n'
        route(enter ? '' : c, {...key, return: enter, backspace: c === '\u007f' || c === '\b'})
      }
    } else route(input, key)
  })
  return <KeysContext.Provider value={slots}>{children}</KeysContext.Provider>
}

/** This screen's key handler (inside a KeyRouter). */
export function useKeys(handler: KeyHandler): void {
  const ref = useContext(KeysContext)
  if (!ref) throw new Error('useKeys outside a KeyRouter')
  ref.current.screen = handler
}

/**
 * An overlay's key handler: it takes every key from the screen beneath until the overlay unmounts
 * or calls the returned release, which it must do as it closes: keys typed before the unmount
 * commits go to the screen beneath then, not to the closed overlay.
 */
export function useOverlayKeys(handler: KeyHandler): () => void {
  const ref = useContext(KeysContext)
  if (!ref) throw new Error('useOverlayKeys outside a KeyRouter')
  const released = useRef(false)
  if (!released.current) ref.current.overlay = handler
  const release = (): void => {
    released.current = true
    ref.current.overlay = null
  }
  useEffect(
    () => () => {
      ref.current.overlay = null
    },
    [ref],
  )
  return release
}

/** The terminal's size, following resizes; `fixed` (tests) wins. */
export function useTerminalSize(fixed?: Size): Size {
  const {stdout} = useStdout()
  const read = (): Size => ({columns: stdout.columns || 80, rows: stdout.rows || 24})
  const [size, setSize] = useState(read)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `read` is rebuilt each render from `stdout`, which is a dependency
  useEffect(() => {
    if (fixed) return
    const onResize = (): void => setSize(read())
    stdout.on('resize', onResize)
    return () => {
      stdout.off('resize', onResize)
    }
  }, [stdout, fixed])
  return fixed ?? size
}

export const CLASS_COLOUR: Record<EntryClass, string | undefined> = {
  regression: 'red',
  improvement: 'green',
  behaviour_change: 'yellow',
  benign: 'cyan',
  same: undefined,
  incomplete: 'magenta',
}

export const CLASS_LABEL: Record<EntryClass, string> = {
  regression: 'regression',
  improvement: 'improvement',
  behaviour_change: 'behaviour',
  benign: 'benign',
  same: 'same',
  incomplete: 'incomplete',
}

export type CellProps = {
  width: number
  children: React.ReactNode
  color?: string
  bold?: boolean
  dim?: boolean
  inverse?: boolean
  /** Keep the last column blank, to separate table columns. */
  gap?: boolean
}

/** A fixed-width cell on one line: text that does not fit ends in an ellipsis, never wraps. */
export function Cell({width, children, color, bold, dim, inverse, gap}: CellProps): React.JSX.Element | null {
  if (width <= 0) return null
  const content = typeof children === 'string' ? oneLine(children) : children
  return (
    <Box width={width} flexShrink={0} overflow="hidden" paddingRight={gap && width > 1 ? 1 : 0}>
      <Text wrap="truncate-end" color={color} bold={bold} dimColor={dim} inverse={inverse}>
        {content}
      </Text>
    </Box>
  )
}

/** One full-width line of text. */
export function Line(props: Omit<CellProps, 'width'> & {width: number}): React.JSX.Element {
  return (
    <Box height={1} width={props.width}>
      <Cell {...props} />
    </Box>
  )
}

/** The key help at the bottom of every screen; `right` (a position, a count) is kept when there is room. */
export function StatusLine({width, keys, right}: {width: number; keys: KeyHelp; right?: string}): React.JSX.Element {
  const rightText = right ? ` ${right}` : ''
  const keysWidth = keys.reduce((n, [k, a], i) => n + (i > 0 ? 2 : 0) + [...k].length + 1 + [...a].length, 0)
  // The keys matter more than the position: the position goes first when both do not fit.
  const rightWidth = right && keysWidth + [...rightText].length <= width ? [...rightText].length : 0
  return (
    <Box height={1} width={width}>
      <Cell width={width - rightWidth}>
        {keys.map(([k, a], i) => (
          <Text key={k}>
            {i > 0 ? '  ' : ''}
            <Text bold color="cyan">
              {k}
            </Text>{' '}
            <Text dimColor>{a}</Text>
          </Text>
        ))}
      </Cell>
      <Cell width={rightWidth} dim>
        {rightText}
      </Cell>
    </Box>
  )
}
