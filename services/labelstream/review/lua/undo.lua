-- Withdraw a reviewer's last answer (while review.undo_seconds run): a retraction enters the
-- outbox (history is not edited), the answer leaves the item, and the item comes back to the
-- reviewer under a new lease. An item they held meanwhile returns to the queue. A gold instance's answer
-- (review/gold.py) was not published: it is dropped from p:review:gold:pending, nothing enters the outbox.
-- ARGV: prefix, reviewer, new lease, now, lease seconds, day (YYYY-MM-DD).
-- Reply: {'undone', id as shown, lease, expires, request, needed, retraction answer_id as shown, key, withdrawn label,
-- its note}
-- or {'conflict', why}.
local reviewer, lease = ARGV[2], ARGV[3]
local now, seconds, day = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local raw = redis.call('GET', k_last(reviewer))
if not raw then return {'conflict', 'nothing to undo: only your last answer can be undone, within review.undo_seconds'} end
local last = cjson.decode(raw)
local id = last.id
local item = k_item(id)
local state, holder, member = unpack(redis.call('HMGET', item, 'state', 'holder', 'member'))
local mine = redis.call('HGET', k_answers(id), reviewer)
if not state or not mine or cjson.decode(mine).answer_id ~= last.answer_id then
  redis.call('DEL', k_last(reviewer))
  return {'conflict', 'that answer can no longer be undone'}
end
if state == 'leased' then return {'conflict', 'another reviewer holds that item now'} end
if state ~= 'done' and state ~= 'waiting' and state ~= 'consolidating' then
  return {'conflict', 'that item is ' .. state}
end
local gold = redis.call('HGET', item, 'gold')
if gold and not redis.call('ZSCORE', K_GOLD_PENDING, id) then  -- final already (gold_final.lua)
  redis.call('DEL', k_last(reviewer))
  return {'conflict', 'that answer can no longer be undone'}
end

local held = redis.call('GET', k_holding(reviewer))
if held and held ~= id then
  local held_state, held_by = unpack(redis.call('HMGET', k_item(held), 'state', 'holder'))
  if held_state == 'leased' and held_by == reviewer then requeue(held) end
end

local retraction
if gold then
  redis.call('ZREM', K_GOLD_PENDING, id)
  redis.call('HDEL', K_GOLD_ENTRIES, id)
  retraction = id .. '#' .. redis.call('HINCRBY', item, 'seq', 1)  -- an id as any undo's, nothing published
else
  retraction = push_retraction(id, last.label, reviewer, last.answer_id, now)
  -- A single item's answer was learned (and counted as evidence) on its own: the item's next answer supersedes
  -- it, so that the learner learns it without counting the record's evidence twice (Correction.counted_before).
  if tonumber(redis.call('HGET', item, 'needed') or '1') <= 1 then redis.call('HSET', item, 'retracted', last.answer_id) end
end
redis.call('HDEL', k_answers(id), reviewer)
redis.call('SREM', k_seen(id), reviewer)
redis.call('DEL', k_last(reviewer))
local head = redis.call('LINDEX', k_recent(reviewer), 0)
if head and cjson.decode(head).answer_id == last.answer_id then redis.call('LPOP', k_recent(reviewer)) end
redis.call('ZREM', K_CONSOLIDATING, id)
unqueue(member)
for _, key in ipairs({item, k_answers(id), k_seen(id)}) do redis.call('PERSIST', key) end
redis.call('HINCRBY', P .. ':review:day:' .. day, reviewer, -1)
redis.call('LPOP', P .. ':review:secs:' .. reviewer)
redis.call('DECR', P .. ':review:answers_total')
lease_to(id, reviewer, lease, now, seconds)
local reply = item_reply('undone', id, shown_answer_id(id, retraction))
table.insert(reply, last.label)
table.insert(reply, last.note or '')
return reply
