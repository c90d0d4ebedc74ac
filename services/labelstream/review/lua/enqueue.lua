-- Add items unless they exist (a replayed request, or an id seen before, is ignored). An id with a counter raises its
-- shape's highest counter seen (prelude.lua, id_counter): a gold item's shown id is drawn below it (claim.lua).
-- ARGV: prefix, now, n, then n groups of: id, member, score, needed, request JSON, stored JSON.
local now, n = tonumber(ARGV[2]), tonumber(ARGV[3])
local added = 0
for i = 0, n - 1 do
  local a = 4 + i * 6
  local id, member, score = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local item = k_item(id)
  if redis.call('EXISTS', item) == 0 then
    redis.call('HSET', item, 'state', 'waiting', 'member', member, 'score', score, 'needed', ARGV[a + 3],
      'request', ARGV[a + 4], 'stored', ARGV[a + 5], 'enqueued_at', now, 'seq', 0)
    redis.call('ZADD', K_WAITING, score, member)
    added = added + 1
    local shape, counter = id_counter(id)
    if shape and counter > (redis.call('GET', k_counter_max(shape)) or '') then  -- same length: as numbers
      redis.call('SET', k_counter_max(shape), counter, 'EX', 7 * DAY_SECONDS)
    end
  end
end
return added
