import {Args, Flags} from '@oclif/core'
import {render} from 'ink'
import React from 'react'
import {RunCommand} from '../src/cli/run-command.js'
import {UnderstudyError} from '../src/errors.js'
import {openExistingStore} from '../src/runs/open.js'
import {loadThresholds} from '../src/scorecard/thresholds.js'
import {onAlternateScreen} from '../src/tui/alternate-screen.js'
import {TuiApp} from '../src/tui/app.js'

export default class Tui extends RunCommand {
  // An interactive screen has no JSON to print.
  static override enableJsonFlag = false

  static override description =
    'Browse shadow runs in the terminal: the runs, a run’s causes (its differences grouped, most harmful first), their requests by class, and one request side by side.'

  static override examples = ['<%= config.bin %> tui', '<%= config.bin %> tui r20261125T1430', '<%= config.bin %> tui --db nightly.db']

  static override args = {
    runId: Args.string({description: 'open this run (id or a unique prefix) instead of the runs list'}),
  }

  static override flags = {
    by: Flags.string({description: 'who approves or rejects held calls from the request view (default: the OS user)'}),
    thresholds: Flags.string({description: 'scorecard thresholds file (YAML or JSON) for the verdict column, the scorecard and the report'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Tui)
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      throw new UnderstudyError(
        `the TUI needs a terminal (${process.stdout.isTTY ? 'stdin' : 'stdout'} is not a TTY); for plain output use \`understudy diff <runId>\``,
      )
    }
    // Read before the screen opens: a bad file is one located error on the ordinary terminal.
    const thresholds = flags.thresholds === undefined ? undefined : {file: flags.thresholds, thresholds: loadThresholds(flags.thresholds)}
    const {store, run} = args.runId === undefined ? {store: this.openStore(flags.db, {readonly: true}), run: undefined} : this.openRun(flags.db, args.runId)
    const openReader = () => openExistingStore(flags.db, {readonly: true})
    // Approval decisions are the TUI's only writes: a connection is opened for each and closed after it.
    const openWriter = () => openExistingStore(flags.db, {readonly: false})
    await onAlternateScreen(async () => {
      const app = render(React.createElement(TuiApp, {store, openReader, openWriter, by: flags.by, thresholds, initialRun: run, colour: this.colour()}), {patchConsole: false})
      await app.waitUntilExit()
    })
  }
}
