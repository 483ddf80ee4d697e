import {Box} from 'ink'
import type React from 'react'
import {useRef, useState} from 'react'
import {renderScorecard} from '../scorecard/render.js'
import type {Colour, Scorecard} from '../scorecard/scorecard.js'
import {RUN_KEYS, type RunAction} from './app-keys.js'
import {actionOf, briefKeys, commonKeys, type KeyTable} from './key-table.js'
import {oneLine} from './text.js'
import {Line, StatusLine, useKeys} from './widgets.js'

export type ScorecardState = {state: 'loading'} | {state: 'ready'; card: Scorecard} | {state: 'failed'; message: string}

export type ScorecardScreenProps = {
  runId: string
  card: ScorecardState
  /** The thresholds file, or null for the defaults. */
  thresholds: string | null
  width: number
  height: number
  onBack: () => void
  onQuit: () => void
  onHelp: () => void
  onRunAction: (a: RunAction) => void
}

export const SCORECARD_KEYS: KeyTable = [
  {action: 'down', keys: '↓ j', help: 'scroll down', match: (input, key) => key.downArrow || input === 'j', brief: ['↑↓/jk', 'scroll']},
  {action: 'up', keys: '↑ k', help: 'scroll up', match: (input, key) => key.upArrow || input === 'k', brief: ['↑↓/jk', 'scroll']},
  ...RUN_KEYS.filter((b) => b.action === 'report'),
  {action: 'back', keys: 'esc', help: 'back to where it was opened', match: (_i, key) => key.escape, brief: ['esc', 'back']},
  ...commonKeys(),
]

export const VERDICT_COLOUR: Record<Colour, string> = {green: 'green', amber: 'yellow', red: 'red'}

/** The colour a line of the rendered scorecard is shown in: its dimension's or its metric's. */
function lineColour(card: Scorecard, line: string): string | undefined {
  for (const d of card.dimensions) {
    for (const m of d.metrics) if (line.startsWith(`${d.name}: ${m.label}`)) return m.not_judged ? undefined : VERDICT_COLOUR[m.colour]
    if (line.startsWith(`${d.name} `)) return VERDICT_COLOUR[d.colour]
  }
  return line.startsWith('scorecard for run') ? VERDICT_COLOUR[card.colour] : undefined
}

/** `c`: the run's scorecard as `understudy scorecard` prints it (`tui --thresholds`, else the defaults), coloured per line. */
export function ScorecardScreen({runId, card, thresholds, width, height, onBack, onQuit, onHelp, onRunAction}: ScorecardScreenProps): React.JSX.Element {
  const lines = card.state === 'ready' ? renderScorecard(card.card).trimEnd().split('\n') : [card.state === 'loading' ? 'working out the scorecard (one pass over the run)…' : `cannot score this run: ${card.message}`]
  const bodyHeight = Math.max(1, height - 2)
  const maxTop = Math.max(0, lines.length - bodyHeight)
  const [top, setTop] = useState(0)
  const latest = useRef({top, maxTop})
  latest.current = {top: latest.current.top, maxTop}
  useKeys((input, key) => {
    const v = latest.current
    const a = actionOf(SCORECARD_KEYS, input, key)
    if (a === 'down' && v.top < v.maxTop) setTop(++v.top)
    else if (a === 'up' && v.top > 0) setTop(--v.top)
    else if (a === 'back') onBack()
    else if (a === 'quit') onQuit()
    else if (a === 'help') onHelp()
    else if (a === 'report') onRunAction(a)
  })
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>{`run ${runId} · scorecard (${thresholds === null ? 'default thresholds' : `thresholds ${oneLine(thresholds)}`})`}</Line>
      <Box flexDirection="column" height={bodyHeight}>
        {lines.slice(top, top + bodyHeight).map((l, i) => (
          <Line key={top + i} width={width} color={card.state === 'ready' ? lineColour(card.card, l) : card.state === 'failed' ? 'red' : 'yellow'}>
            {l}
          </Line>
        ))}
      </Box>
      <StatusLine width={width} keys={briefKeys(SCORECARD_KEYS)} right={maxTop > 0 ? `${top + 1}-${Math.min(lines.length, top + bodyHeight)}/${lines.length}` : undefined} />
    </Box>
  )
}
