import type {ScriptedSkill} from './skills.js'

/** Placeholder until the coding skill lands: claims no request, so the support agent answers. */
export const codingSkill: ScriptedSkill = {
  name: 'coding',
  handles: () => false,
  respond: () => ({content: '', tool_calls: []}),
}
