-- Accept an answer, atomically: the item leaves the reviewer, the correction enters the outbox, the
-- item is marked (done; waiting for more overlap answers; or consolidating once it has them), the
-- record stays joinable for the learner. The same answer sent again under the same lease (a retry
-- after a lost response) gets the first result and changes nothing. A gold instance (review/gold.py) is
-- scored instead (shown with a proposal: was the proposal right, was it taken): its correction (kind
-- 'gold') waits in p:review:gold:pending until the undo window has passed (gold_final.lua), and the
-- record store is not touched.
-- ARGV: prefix, id, reviewer, lease, label, note ('' for none), now, day (YYYY-MM-DD), undo seconds,
-- done keep seconds, record key, record keep seconds.
-- Reply: {'ok' | 'repeat', answer_id (as shown), new state, seconds since the claim} or {'conflict', why}.
local id, reviewer, lease, label, note = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
id = resolve(id, lease)  -- a gold instance's shown id, under its lease: its key (prelude.lua)
local now, day, undo = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local keep, rec_key, rec_keep = tonumber(ARGV[10]), ARGV[11], tonumber(ARGV[12])
local item = k_item(id)

local previous = redis.call('HGET', item, 'answered:' .. lease)
if previous then
  local p = cjson.decode(previous)
  if p.reviewer == reviewer and p.label == label then return {'repeat', shown_answer_id(id, p.answer_id), p.state, '0'} end
end
local problem = lease_problem(id, reviewer, lease, now)
if problem then return {'conflict', problem} end

local leased_at = tonumber(redis.call('HGET', item, 'leased_at'))
local needed = tonumber(redis.call('HGET', item, 'needed'))
local seq = redis.call('HINCRBY', item, 'seq', 1)
local answer_id = id .. '#' .. seq
redis.call('HSET', k_answers(id), reviewer, cjson.encode({label = label, answer_id = answer_id, n = seq, at = now}))
redis.call('SADD', k_seen(id), reviewer)
redis.call('ZREM', K_LEASES, id)
redis.call('HDEL', item, 'lease', 'holder', 'leased_at', 'expires')
release_holding(reviewer, id)

local gold, truth = unpack(redis.call('HMGET', item, 'gold', 'truth'))
local entry = {kind = 'answer', id = id, label = label, reviewer = reviewer, answer_id = answer_id, timestamp = now}
if needed > 1 then entry.kind = 'overlap' end
local retracted = redis.call('HGET', item, 'retracted')  -- an undone answer of this single item (undo.lua)
if retracted and needed <= 1 then entry.supersedes = retracted end
if note ~= '' then entry.note = note end
if gold then  -- published under the gold item's id; with the proposal shown, was it right, was it taken
  entry.kind, entry.id, entry.correct = 'gold', gold, label == truth
  local shown = cjson.decode(redis.call('HGET', item, 'request')).proposed_label
  if type(shown) == 'string' then  -- none shown: JSON null (cjson.null), the fields stay absent
    entry.proposal_correct, entry.agreed_with_proposal = shown == truth, label == shown
  end
  redis.call('HSET', K_GOLD_ENTRIES, id, cjson.encode(entry))
  redis.call('ZADD', K_GOLD_PENDING, now + math.max(undo, 0), id)
else
  redis.call('RPUSH', K_OUTBOX, cjson.encode(entry))
end

if undo > 0 then
  redis.call('SET', k_last(reviewer), cjson.encode({id = id, answer_id = answer_id, label = label, at = now, note = note}),
    'PX', math.floor(undo * 1000))
end
local recent = k_recent(reviewer)
local shown = redis.call('HGET', item, 'shown')  -- a gold instance's: listed under it, correctable by its answer id
redis.call('LPUSH', recent, cjson.encode({id = id, answer_id = answer_id, label = label, at = now, overlap = needed > 1,
  shown = shown or nil}))
if shown then
  redis.call('HSET', k_gold_shown(reviewer), shown_answer_id(id, answer_id), answer_id)
  redis.call('EXPIRE', k_gold_shown(reviewer), 3 * DAY_SECONDS)
else  -- a real record's answer with the answer id a gold answer of theirs was shown under: the newer one is meant
  redis.call('HDEL', k_gold_shown(reviewer), answer_id)
end
redis.call('LTRIM', recent, 0, RECENT_MAX - 1)
redis.call('EXPIRE', recent, 3 * DAY_SECONDS)
local day_key = P .. ':review:day:' .. day
redis.call('HINCRBY', day_key, reviewer, 1)
redis.call('EXPIRE', day_key, 3 * DAY_SECONDS)
local secs_key = P .. ':review:secs:' .. reviewer
redis.call('LPUSH', secs_key, now - leased_at)
redis.call('LTRIM', secs_key, 0, 99)
redis.call('INCR', P .. ':review:answers_total')
if not gold then keep_joinable(id, rec_key, rec_keep) end

redis.call('HDEL', item, 'expert')  -- answered: the rest of an overlap item's answers may come from anyone
redis.call('ZREM', K_EXPERT_SINCE, id)
local state
if needed <= 1 then
  state = 'done'
  finish(id, keep)
elseif redis.call('HLEN', k_answers(id)) >= needed then
  state = 'consolidating'
  redis.call('HSET', item, 'state', state)
  redis.call('ZADD', K_CONSOLIDATING, now + undo, id)
else
  state = 'waiting'
  requeue(id)
end
redis.call('HSET', item, 'answered:' .. lease, cjson.encode({reviewer = reviewer, label = label, answer_id = answer_id, state = state}))
return {'ok', shown_answer_id(id, answer_id), state, tostring(now - leased_at)}
