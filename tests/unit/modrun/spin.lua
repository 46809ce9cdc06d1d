-- loops forever on its third tick: modrun reports the budget, as gamed would
local M = {}
function M.init(ctx, params) return {}, 20 end
function M.join(ctx, state, player) return state end
function M.leave(ctx, state, player, reason) return state end
function M.loop(ctx, state, tick, messages)
  if tick == 3 then while true do end end
  ctx.broadcast(7, "t" .. tick, {1})
  return state
end
return M
