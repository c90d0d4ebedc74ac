-- Items that waited in the experts' queue longer than review.expert_wait_seconds (no expert took and answered
-- them) go back to the reviewers' queue: never to whoever has seen them (the reviewer who was not sure is in
-- their 'seen' set), their notes kept, flagged 'no_expert' (the page shows "no expert took it") and counted
-- in p:review:expert_timeouts. An item an expert holds right now is left to them (looked at again on the
-- next call, once its lease ends); one answered, expired or forgotten meanwhile just leaves the list.
-- ARGV: prefix, now, wait seconds, max items. Reply: how many went back.
local now, wait, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local moved = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_EXPERT_SINCE, '-inf', now - wait, 'LIMIT', 0, max)) do
  local item = k_item(id)
  local state, expert, member = unpack(redis.call('HMGET', item, 'state', 'expert', 'member'))
  if state == 'waiting' and expert then
    redis.call('ZREM', K_EXPERT, member)
    redis.call('HDEL', item, 'expert')
    redis.call('HSET', item, 'no_expert', now)
    requeue(id)
    redis.call('INCR', P .. ':review:expert_timeouts')
    redis.call('ZREM', K_EXPERT_SINCE, id)
    moved = moved + 1
  elseif not (state == 'leased' and expert) then
    redis.call('ZREM', K_EXPERT_SINCE, id)
  end
end
return moved
