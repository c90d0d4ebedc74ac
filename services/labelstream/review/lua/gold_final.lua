-- Gold answers whose undo window has passed (review/gold.py): into the outbox (kind 'gold', published once
-- as any answer), counted per reviewer in p:review:gold:answers and p:review:gold:right, and per gold item
-- (the entry's id) in p:review:gold:item_answers, p:review:gold:item_right and, a wrong answer,
-- p:review:gold:item_wrong:<gold id> (label -> count); per reviewer and day too (the day the answer became
-- final, the server's local date), in p:review:gold:day:<day>:answers and :right, kept `keep` seconds.
-- ARGV: prefix, now, max, day, keep. Reply: {right, wrong} moved.
local now, max, day, keep = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local right, wrong = 0, 0
local K_ITEM_ANSWERS, K_ITEM_RIGHT = P .. ':review:gold:item_answers', P .. ':review:gold:item_right'
local K_DAY_ANSWERS, K_DAY_RIGHT = P .. ':review:gold:day:' .. day .. ':answers', P .. ':review:gold:day:' .. day .. ':right'
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_GOLD_PENDING, '-inf', now, 'LIMIT', 0, max)) do
  local raw = redis.call('HGET', K_GOLD_ENTRIES, id)
  if raw then
    local entry = cjson.decode(raw)
    redis.call('RPUSH', K_OUTBOX, raw)
    redis.call('HINCRBY', P .. ':review:gold:answers', entry.reviewer, 1)
    redis.call('HINCRBY', K_ITEM_ANSWERS, entry.id, 1)
    redis.call('HINCRBY', K_DAY_ANSWERS, entry.reviewer, 1)
    if entry.correct then
      right = right + 1
      redis.call('HINCRBY', P .. ':review:gold:right', entry.reviewer, 1)
      redis.call('HINCRBY', K_DAY_RIGHT, entry.reviewer, 1)
      redis.call('HINCRBY', K_ITEM_RIGHT, entry.id, 1)
    else
      wrong = wrong + 1
      redis.call('HINCRBY', P .. ':review:gold:item_wrong:' .. entry.id, entry.label, 1)
    end
  end
  redis.call('ZREM', K_GOLD_PENDING, id)
  redis.call('HDEL', K_GOLD_ENTRIES, id)
end
if right + wrong > 0 then
  redis.call('EXPIRE', K_DAY_ANSWERS, keep)
  if right > 0 then redis.call('EXPIRE', K_DAY_RIGHT, keep) end
end
return {right, wrong}
