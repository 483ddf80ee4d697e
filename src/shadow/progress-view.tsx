import {Box} from 'ink'
import {ColourContext, Text} from '../cli/colour-text.js'
import type React from 'react'
import {formatDuration, progressFigures, type ShadowProgress} from './progress.js'

export type ProgressViewProps = {
  runId: string
  candidate: string
  baseline: string
  progress: ShadowProgress
  stopping: boolean
  nowMs: number
  /** Whether colour is wanted on the stream the view is drawn on (src/cli/colour.ts). */
  colour: boolean
}

const BAR_WIDTH = 30

/** The live view of `understudy shadow` on a terminal. Fits 80 columns. */
export function ProgressView({runId, candidate, baseline, progress, stopping, nowMs, colour}: ProgressViewProps): React.JSX.Element {
  const f = progressFigures(progress, nowMs)
  const filled = Math.round(f.fraction * BAR_WIDTH)
  const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled)
  return (
    <ColourContext.Provider value={colour}>
      <Box flexDirection="column" paddingX={1}>
        <Text>
          <Text bold>understudy shadow</Text> <Text dimColor>{runId}</Text>
        </Text>
        <Text>
          <Text color="cyan">{candidate}</Text> <Text dimColor>vs</Text> <Text color="magenta">{baseline}</Text>
        </Text>
        <Box marginTop={1}>
          <Text>
            <Text color="green">{bar}</Text> {(f.fraction * 100).toFixed(0).padStart(3)}%{'  '}
            {f.done} requests{'  '}
            {f.rate_per_s.toFixed(0)}/s{'  '}
            eta {f.eta_s === null ? '?' : formatDuration(f.eta_s)}
          </Text>
        </Box>
        <Text>
          policy denials <Text color={progress.denials > 0 ? 'yellow' : undefined}>{progress.denials}</Text>
          {'   '}tool errors <Text color={progress.tool_errors > 0 ? 'yellow' : undefined}>{progress.tool_errors}</Text>
          {'   '}budget hits <Text color={progress.budget_hits > 0 ? 'yellow' : undefined}>{progress.budget_hits}</Text>
          {'   '}skipped <Text color={progress.skipped > 0 ? 'red' : undefined}>{progress.skipped}</Text>
        </Text>
        {stopping ? <Text color="yellow">stopping: finishing the requests in flight… (Ctrl-C again to quit now)</Text> : null}
      </Box>
    </ColourContext.Provider>
  )
}
