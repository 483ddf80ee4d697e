import type {ScriptedSkill} from './skills.js'

/** Placeholder until the tickets skill lands: claims no request, so the support agent answers. */
export const ticketsSkill: ScriptedSkill = {
  name: 'tickets',
  handles: () => false,
  respond: () => ({content: '', tool_calls: []}),
}
