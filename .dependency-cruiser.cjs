/**
 * Import rules of docs/architecture.md, checked by `npm run lint`.
 *
 * Layers, lowest first. A module may import its own layer and the layers below it, never one above:
 * data flows traffic → runtime → store → runs → diff/eval → report/scorecard → render, and a lower
 * layer that reached up would make that flow circular.
 */
const LAYERS = [
  ['util', '^src/(util/|errors\\.ts$)'],
  ['contracts', '^src/(bundle|traffic|trace|policy|scenario)/'],
  ['sandboxed services', '^src/(tools|model)/'],
  ['runtime', '^src/runtime/'],
  ['store', '^src/store/'],
  ['per-request judgement', '^src/(diff|eval|budget)/'],
  ['runs', '^src/runs/'],
  ['scoring', '^src/(scorecard|rollout)/'],
  ['rendering', '^src/(report|otel)/'],
  ['workflows', '^src/(shadow|tui|incident|drill|cli|import|init|bisect)/'],
]

const layerRules = LAYERS.slice(0, -1).map(([name, from], i) => ({
  name: `layer-${name.replace(/\s+/g, '-')}`,
  comment: `${name} must not import a higher layer (${LAYERS.slice(i + 1).map(([n]) => n).join(', ')})`,
  severity: 'error',
  from: {path: from},
  to: {path: LAYERS.slice(i + 1).map(([, p]) => p).join('|')},
}))

module.exports = {
  forbidden: [
    {name: 'no-circular', severity: 'error', comment: 'import cycles make load order and layering ambiguous', from: {}, to: {circular: true}},
    {
      name: 'src-stays-in-src',
      severity: 'error',
      comment: 'library code imports only library code (commands/, scenarios/, test/ and bench/ import src/, never the reverse)',
      from: {path: '^src/'},
      to: {path: '^(commands|scenarios|test|bench)/'},
    },
    {
      name: 'read-side-off-the-store',
      severity: 'error',
      comment: 'only the runs layer opens and walks a stored run; judgement, scoring and rendering get data from it',
      from: {path: '^src/(diff|eval|budget|scorecard|report)/'},
      to: {path: '^src/store/(sqlite|database|.*-repo|trace-writer)'},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    moduleSystems: ['es6'],
  },
}
