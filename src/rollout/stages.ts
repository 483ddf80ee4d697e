import type {HistoryStage} from '../store/api.js'

/** Rollout stages in order, with the share of traffic each sends to the new bundle. */
export type Stage = Exclude<HistoryStage, 'bad'>
export const STAGES: readonly Stage[] = ['shadow', 'canary-1', 'ramp-10', 'ramp-50', 'full']
export const STAGE_PERCENT: Readonly<Record<Stage, number>> = {shadow: 0, 'canary-1': 1, 'ramp-10': 10, 'ramp-50': 50, full: 100}

export const ALL_TENANTS = 'all'

export function stageRank(stage: Stage): number {
  return STAGES.indexOf(stage)
}

/** `steps` stages further than `stage` (one by default), full at most. */
export function nextStage(stage: Stage, steps = 1): Stage {
  return STAGES[Math.min(STAGES.length - 1, stageRank(stage) + steps)]!
}

export function describeStage(stage: Stage): string {
  return stage === 'shadow' ? 'shadow (0%)' : `${stage} (${STAGE_PERCENT[stage]}%)`
}
