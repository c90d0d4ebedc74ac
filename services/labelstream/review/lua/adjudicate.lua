-- An overlap item whose answers disagree goes to one more reviewer before it is consolidated.
-- ARGV: prefix, id, deadline (epoch seconds; 0: none). Reply: 1, or 0 when the item is no longer
-- waiting for consolidation. With a deadline the item is also listed in p:review:adjudicating, so
-- that adjudication_timeout.lua consolidates it from the answers it has if nobody else takes it.
local id, deadline = ARGV[2], tonumber(ARGV[3])
if redis.call('HGET', k_item(id), 'state') ~= 'consolidating' then return 0 end
redis.call('ZREM', K_CONSOLIDATING, id)
redis.call('HINCRBY', k_item(id), 'needed', 1)
redis.call('HSET', k_item(id), 'adjudicated', 1)
if deadline > 0 then redis.call('ZADD', P .. ':review:adjudicating', deadline, id) end
requeue(id)
return 1
