import {Box} from 'ink'
import type React from 'react'
import {useRef, useState} from 'react'
import {displayWidth} from '../util/display-width.js'
import type {KeyTable} from './key-table.js'
import {Cell, Line, StatusLine, useOverlayKeys} from './widgets.js'

export type HelpScreenProps = {
  /** What the help is for, e.g. `requests`. */
  title: string
  /** The keys of the screen beneath, each row as the screen dispatches it. */
  tables: readonly {heading?: string; table: KeyTable}[]
  width: number
  height: number
  onClose: () => void
}

/**
 * `?`: every key of the screen beneath, listed from the very table that screen dispatches keys
 * with. j/k scroll when the list is taller than the screen; any other key closes it.
 */
export function HelpScreen({title, tables, width, height, onClose}: HelpScreenProps): React.JSX.Element {
  const lines: {keys: string; help: string; heading?: boolean}[] = []
  for (const {heading, table} of tables) {
    if (heading) lines.push({keys: '', help: heading, heading: true})
    for (const b of table) lines.push({keys: b.keys, help: b.help})
  }
  const bodyHeight = Math.max(1, height - 2)
  const maxTop = Math.max(0, lines.length - bodyHeight)
  const [top, setTop] = useState(0)
  const latest = useRef({top, maxTop})
  latest.current = {top: latest.current.top, maxTop}
  const release = useOverlayKeys((input, key) => {
    const v = latest.current
    if ((input === 'j' || key.downArrow) && v.top < v.maxTop) setTop(++v.top)
    else if ((input === 'k' || key.upArrow) && v.top > 0) setTop(--v.top)
    else if (!(input === 'j' || input === 'k' || key.downArrow || key.upArrow)) {
      release()
      onClose()
    }
  })
  const keysW = Math.min(Math.floor(width / 3), 2 + Math.max(0, ...lines.filter((l) => !l.heading).map((l) => displayWidth(l.keys))))
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>{`keys · ${title}`}</Line>
      <Box flexDirection="column" height={bodyHeight}>
        {lines.slice(top, top + bodyHeight).map((l, i) =>
          l.heading ? (
            <Line key={top + i} width={width} bold dim>
              {l.help}
            </Line>
          ) : (
            <Box key={top + i} height={1}>
              <Cell width={2}> </Cell>
              <Cell gap width={keysW} bold color="cyan">{l.keys}</Cell>
              <Cell width={Math.max(0, width - 2 - keysW)}>{l.help}</Cell>
            </Box>
          ),
        )}
      </Box>
      <StatusLine width={width} keys={[['any key', 'close'], ...(maxTop > 0 ? ([['↑↓/jk', 'scroll']] as const) : [])]} right={maxTop > 0 ? `${top + 1}-${Math.min(lines.length, top + bodyHeight)}/${lines.length}` : undefined} />
    </Box>
  )
}
