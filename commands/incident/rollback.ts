import {Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../../src/cli/base-command.js'
import {openExistingStore} from '../../src/runs/open.js'
import {LAST_KNOWN_GOOD, rollback} from '../../src/incident/rollback.js'
import type {BundleHistoryEntry} from '../../src/store/api.js'

export default class IncidentRollback extends BaseCommand {
  static override description =
    'Write the rollback bundle: the last known-good bundle from the rollout history (most recent promotion to the furthest stage, not marked bad), or a bundle directory; with --disable-high-risk and/or --read-only, the same step disables its high-risk tools and/or every write.'

  static override examples = [
    '<%= config.bin %> incident rollback --to last-known-good --out /tmp/rollback',
    '<%= config.bin %> incident rollback --to last-known-good --tenant acme --out /tmp/rollback-acme --json',
    '<%= config.bin %> incident rollback --to scenarios/support-refunds/v1 --out /tmp/rollback',
    '<%= config.bin %> incident rollback --to last-known-good --disable-high-risk --read-only --out /tmp/rollback-safe',
  ]

  static override flags = {
    db: dbFlag,
    to: Flags.string({description: `${LAST_KNOWN_GOOD}, or a bundle directory`, default: LAST_KNOWN_GOOD}),
    tenant: Flags.string({description: "the tenant whose history to use (default: every tenant's)"}),
    out: Flags.string({description: 'directory to write the bundle to (must not exist or be empty)', required: true}),
    'disable-high-risk': Flags.boolean({description: 'also disable every high-risk (write_high) tool of the rollback bundle (kill-switch)', default: false}),
    'read-only': Flags.boolean({description: 'also disable every write tool of the rollback bundle (read-only degrade)', default: false}),
  }

  async run(): Promise<{bundle: string; dir: string; disabled: string[]; source: {kind: 'history'; entry: BundleHistoryEntry} | {kind: 'dir'; dir: string}}> {
    const {flags} = await this.parse(IncidentRollback)
    const store = openExistingStore(flags.db)
    try {
      const r = await rollback(store, flags.to, flags.out, flags.tenant, {disableHighRisk: flags['disable-high-risk'], readOnly: flags['read-only']})
      const from = r.source.kind === 'history' ? `last known good (${r.source.entry.stage}, ${r.source.entry.tenant}, promoted ${r.source.entry.promoted_at})` : r.source.dir
      this.out(`wrote ${r.bundle.ref} to ${flags.out} from ${from}${r.disabled.length > 0 ? `; disabled: ${r.disabled.join(', ')}` : ''}`)
      return {bundle: r.bundle.ref, dir: flags.out, disabled: r.disabled, source: r.source}
    } finally {
      store.close()
    }
  }
}
