import type {DrillReport} from './run.js'

const secs = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`)
const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export function renderDrill(r: DrillReport): string[] {
  const out = [
    `Drill ${r.scenario}: ${r.passed ? 'PASSED' : 'FAILED'}`,
    `  last known good ${r.bundles.good}; shipped ${r.bundles.bad}; mitigated ${r.bundles.mitigated ?? '—'}`,
    `  operator steps: ${r.steps.length ? r.steps.map((s) => `${s.step} → ${s.result}`).join('; ') : 'none applied'}`,
    '',
    `  time to detect    ${secs(r.timings.time_to_detect_ms)}  (run ${r.detection.run_id}, ${r.detection.requests} requests)`,
    `  time to mitigate  ${secs(r.timings.time_to_mitigate_ms)}${r.mitigation ? `  (run ${r.mitigation.run_id})` : ''}`,
    `  harmful actions   before ${r.detection.harmful}, after ${r.mitigation?.harmful ?? '—'} (good bundle on the same traffic: ${r.detection.good_bundle_harmful})`,
  ]
  if (r.detection.first) out.push(`  first harm        ${r.detection.first.request_id} (line ${r.detection.first.line}, request ${r.detection.first.position} of ${r.detection.requests})`)
  const g = r.mitigation?.golden
  if (g) out.push(`  golden tasks      ${g.passed}/${g.total} pass (${pct(g.rate)}); on the good bundle ${r.detection.golden_on_good_bundle.passed}/${r.detection.golden_on_good_bundle.total}`)
  for (const e of r.detection.examples.slice(0, 3)) out.push(`    harm: ${e.request_id} ${e.tool} ${JSON.stringify(e.args)} (${e.decision ?? 'no decision'} ${e.reason ?? ''})`.trimEnd())
  for (const f of (g?.failed ?? []).slice(0, 5)) out.push(`    golden failed: ${f.request_id}: ${f.reason}`)
  for (const reason of r.reasons) out.push(`  ✗ ${reason}`)
  return out
}
