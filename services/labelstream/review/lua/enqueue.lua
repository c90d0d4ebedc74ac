-- Add items unless they exist (a replayed request, or an id seen before, is ignored).
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
  end
end
return added
