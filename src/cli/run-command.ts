import {Args} from '@oclif/core'
import {openExistingStore, openRun, type OpenRun} from '../runs/open.js'
import type {TraceDatabase} from '../store/api.js'
import {BaseCommand, dbFlag} from './base-command.js'

/** The argument of a command that works on a run (`static args = {runId: runIdArg}`): a full run id or a unique prefix of one. */
export const runIdArg = Args.string({description: 'run id, or a unique prefix of one', required: true})

/**
 * Every command that works on a stored run extends this. It gives the `--db` flag and the run-id
 * argument, opens the run the one way src/runs/open.ts does (so every command has the same "no
 * store" / "no run" / "ambiguous prefix" errors) and closes what it opened once the command ends,
 * whether it succeeded or failed. The gate epilogue of `--gate` commands is BaseCommand's. The colour rule and
 * terminal-safe output come from BaseCommand.
 */
export abstract class RunCommand extends BaseCommand {
  static override baseFlags = {db: dbFlag}

  private readonly opened: {close(): void}[] = []

  /** The run `runId` names in the store at `db`, opened read-only unless told; closed when the command ends. */
  protected openRun(db: string, runId: string, opts: {readonly?: boolean} = {}): OpenRun {
    const opened = openRun(db, runId, opts)
    this.opened.push(opened.store)
    return opened
  }

  /** The existing store at `db` (never created here); closed when the command ends. */
  protected openStore(db: string, opts: {readonly?: boolean} = {}): TraceDatabase {
    const store = openExistingStore(db, opts)
    this.opened.push(store)
    return store
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    for (const store of this.opened.splice(0).reverse()) store.close()
    return super.finally(err)
  }
}
