-- An overlap item whose answers disagree goes to one more reviewer before it is consolidated.
-- ARGV: prefix, id. Reply: 1, or 0 when the item is no longer waiting for consolidation.
local id = ARGV[2]
if redis.call('HGET', k_item(id), 'state') ~= 'consolidating' then return 0 end
redis.call('ZREM', K_CONSOLIDATING, id)
redis.call('HINCRBY', k_item(id), 'needed', 1)
redis.call('HSET', k_item(id), 'adjudicated', 1)
requeue(id)
return 1
