local M = {min_players = 1, max_players = 4}
function M.init(ctx, params) return {total = 0}, 10 end
function M.join(ctx, state, player) ctx.log("info", "joined " .. player.name) return state end
function M.leave(ctx, state, player, reason) return state end
function M.loop(ctx, state, tick, messages)
  for _, m in ipairs(messages) do
    state.total = state.total + tonumber(m.data)
    ctx.broadcast(1, string.format("%d:%d", m.sender, state.total))
  end
  if state.total >= 10 then
    ctx.finish({players = {{user_id = 1, score = state.total, outcome = "win"}, {user_id = 2, score = 0, outcome = "loss"}},
                summary = "reached " .. state.total .. " at " .. ctx.now_ms() .. " ms r=" .. ctx.random(6)})
  end
  return state
end
return M
