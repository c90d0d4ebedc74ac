-- Items that waited for an adjudicator past their deadline (nobody who has not answered them took
-- them: e.g. only overlap_k reviewers exist) are consolidated from the answers they have, flagged.
-- ARGV: prefix, now, max items. Reply: how many were moved to consolidation.
-- An item leased to an adjudicator right now is left to them (looked at again on the next call);
-- one answered, done or expired meanwhile just leaves the list.
local now, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local K_ADJUDICATING = P .. ':review:adjudicating'
local moved = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_ADJUDICATING, '-inf', now, 'LIMIT', 0, max)) do
  local item = k_item(id)
  local state = redis.call('HGET', item, 'state')
  if state == 'waiting' then
    local member = redis.call('HGET', item, 'member')
    unqueue(member)
    redis.call('HINCRBY', item, 'needed', -1)
    redis.call('HSET', item, 'state', 'consolidating', 'adjudication_timed_out', 1)
    redis.call('ZADD', K_CONSOLIDATING, now, id)
    redis.call('ZREM', K_ADJUDICATING, id)
    moved = moved + 1
  elseif state ~= 'leased' then
    redis.call('ZREM', K_ADJUDICATING, id)
  end
end
return moved
