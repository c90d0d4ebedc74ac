-- Correct one of a reviewer's recent answers (while review.correct_seconds run since they first
-- answered the item; never on a gold instance): a retraction of the answer and the new answer enter the outbox, in this order
-- (history is not edited; the learner learns the new answer after the withdrawn one, as after an
-- undo). On an overlap item the new answer replaces the reviewer's vote (kind 'overlap', same place in
-- the answers' order) and 'rev' counts the change: a consolidation under way with the old vote turns
-- stale; an item already consolidated is listed in p:review:reconsolidate, where the leader recomputes
-- its consensus and publishes a superseding one if the label changes. A second review (an answer a
-- confident model contradicted, reopened for one more reviewer) is not corrected.
-- The same correction sent again (a retry after a lost response) gets the first result.
-- ARGV: prefix, reviewer, answer_id to correct, label, note ('' for none), now, window seconds,
-- record key, record keep seconds.
-- Reply: {'ok' | 'repeat' | 'same', new answer_id, retraction answer_id, id, item state, 'overlap' | 'single'}
-- or {'conflict', why}.
local reviewer, old, label, note = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, window = tonumber(ARGV[6]), tonumber(ARGV[7])
local rec_key, rec_keep = ARGV[8], tonumber(ARGV[9])
old = redis.call('HGET', k_gold_shown(reviewer), old) or old  -- a gold answer, by the id it was shown under
local id = string.match(old, '^(.*)#%d+$')
if not id then return {'conflict', 'not an answer id (they look like <record id>#<n>)'} end
local item = k_item(id)
local state, needed, second = unpack(redis.call('HMGET', item, 'state', 'needed', 'second_review'))
local raw = redis.call('HGET', k_answers(id), reviewer)
if not state or not raw then return {'conflict', 'that answer is not yours to correct (undone, or forgotten)'} end
if redis.call('HGET', item, 'gold') then  -- review/gold.py: a gold answer is final after the undo window
  return {'conflict', 'that record cannot be corrected: it is a control item with a known answer'}
end
local mine = cjson.decode(raw)
local overlap = tonumber(needed) ~= 1
local kind = overlap and 'overlap' or 'single'
if mine.answer_id ~= old then
  if mine.corrects == old and mine.label == label then return {'repeat', mine.answer_id, mine.retraction or '', id, state, kind} end
  return {'conflict', 'that answer was corrected or undone since: correct the latest one'}
end
if second then
  return {'conflict', 'a second review of that answer is under way (the model doubted it): its consensus decides'}
end
if state == 'expired' or (not overlap and state ~= 'done') then return {'conflict', 'that item is ' .. state .. ' now'} end
local first = tonumber(mine.first_at or mine.at)
if now > first + window then
  local span = window >= 120 and (math.floor(window / 60) .. ' min') or (math.floor(window) .. ' s')
  return {'conflict', 'too old: an answer can be changed for ' .. span .. ' (review.correct_seconds)'}
end
if mine.label == label then return {'same', old, '', id, state, kind} end

local retraction = push_retraction(id, mine.label, reviewer, old, now)
local seq = redis.call('HINCRBY', item, 'seq', 1)
local answer_id = id .. '#' .. seq
local entry = {kind = 'answer', id = id, label = label, reviewer = reviewer, answer_id = answer_id, timestamp = now,
  supersedes = old}  -- the learner learns it but does not count its record as evidence again
if overlap then entry.kind = 'overlap' end
if note ~= '' then entry.note = note end
redis.call('RPUSH', K_OUTBOX, cjson.encode(entry))
redis.call('HDEL', k_gold_shown(reviewer), answer_id)  -- as in answer.lua: the newer answer of that id is meant
redis.call('HSET', k_answers(id), reviewer, cjson.encode({label = label, answer_id = answer_id, n = mine.n, at = now,
  first_at = first, corrects = old, retraction = retraction}))
if overlap then
  redis.call('HINCRBY', item, 'rev', 1)
  if state == 'done' then redis.call('ZADD', P .. ':review:reconsolidate', now, id) end
end

local last = redis.call('GET', k_last(reviewer))
if last and cjson.decode(last).answer_id == old then redis.call('DEL', k_last(reviewer)) end
local recent = k_recent(reviewer)
local done = false
for offset = 0, redis.call('LLEN', recent) - 1, 100 do  -- a recent answer is near the front of the history
  for i, value in ipairs(redis.call('LRANGE', recent, offset, offset + 99)) do
    local e = cjson.decode(value)
    if e.answer_id == old then
      redis.call('LSET', recent, offset + i - 1, cjson.encode({id = id, answer_id = answer_id, label = label, at = first,
        corrected_at = now, was = e.was or mine.label, overlap = overlap}))
      done = true
      break
    end
  end
  if done then break end
end
keep_joinable(id, rec_key, rec_keep)
return {'ok', answer_id, retraction, id, state, kind}
