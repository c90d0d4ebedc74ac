-- Admin: drop items that wait (or are leased) from the queue; they are never served again.
-- ARGV: prefix, done keep seconds, ids... Reply: how many were expired.
local keep = tonumber(ARGV[2])
local expired = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local item = k_item(id)
  local state, holder, member = unpack(redis.call('HMGET', item, 'state', 'holder', 'member'))
  if state == 'waiting' or state == 'leased' then
    if holder then release_holding(holder, id) end
    redis.call('ZREM', K_LEASES, id)
    unqueue(member)
    redis.call('ZREM', K_EXPERT_SINCE, id)
    redis.call('HSET', item, 'state', 'expired')
    redis.call('HDEL', item, 'lease', 'holder', 'leased_at', 'expires')
    for _, key in ipairs({item, k_answers(id), k_seen(id)}) do redis.call('EXPIRE', key, keep) end
    expired = expired + 1
  end
end
return expired
