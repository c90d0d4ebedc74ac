-- Shared by every review queue script (prepended to each). ARGV[1] is the key prefix.
-- Keys (p = prefix): p:review:item:<id> (hash: state, member, score, needed, request, stored, lease,
-- holder, leased_at, expires, seq), p:review:item:<id>:answers (reviewer -> answer JSON),
-- p:review:item:<id>:seen (reviewers who answered or skipped it), p:review:waiting (items nobody has
-- seen), p:review:waiting_seen (items someone has seen: overlap, skipped), p:review:expert (items a
-- reviewer was not sure of: served to experts only while the item's 'expert' field is set; p:review:expert_since:
-- id -> when it went there), p:review:leases (id ->
-- expiry), p:review:holding:<reviewer> (the id a reviewer holds), p:review:consolidating (id -> when
-- its answers can no longer be undone), p:review:outbox (corrections to publish, oldest first),
-- p:review:last:<reviewer> (their last answer, while it can be undone), p:review:recent:<reviewer>
-- (their last RECENT_MAX answers, newest first: their history, for correcting one).
-- Gold instances (review/gold.py) are items with the fields 'gold' (the gold id) and 'truth' (its label);
-- p:review:gold:ids (the gold set), p:review:gold:served:<reviewer> (gold ids served to them),
-- p:review:gold:shown_ids:<reviewer> (the ids their gold items were shown under), p:review:gold:pending (instance -> when its answer is final) and p:review:gold:entries (instance -> correction).
-- A gold instance is kept under a random key and shown under another id, its field 'shown' (review/gold.py, "Shown
-- id"): p:review:gold:lease:<lease> (the instance key a gold lease was given for) and p:review:gold:shown:<reviewer>
-- (a shown answer id -> the answer id under the key) resolve the ids a reviewer sends.
-- The queue order is the sorted sets' order: score = -priority, then member = "<%020.6f request
-- timestamp>|<id>" (older first); the id is the member from character 22 on.
local P = ARGV[1]
local K_WAITING = P .. ':review:waiting'
local K_AGAIN = P .. ':review:waiting_seen'
local K_EXPERT = P .. ':review:expert'
local K_EXPERT_SINCE = P .. ':review:expert_since'
local K_LEASES = P .. ':review:leases'
local K_CONSOLIDATING = P .. ':review:consolidating'
local K_OUTBOX = P .. ':review:outbox'
local K_GOLD_IDS = P .. ':review:gold:ids'
local K_GOLD_PENDING = P .. ':review:gold:pending'
local K_GOLD_ENTRIES = P .. ':review:gold:entries'
local DAY_SECONDS = 86400

local function k_item(id) return P .. ':review:item:' .. id end
local function k_answers(id) return P .. ':review:item:' .. id .. ':answers' end
local function k_seen(id) return P .. ':review:item:' .. id .. ':seen' end
local function k_holding(reviewer) return P .. ':review:holding:' .. reviewer end
local function k_last(reviewer) return P .. ':review:last:' .. reviewer end
local function k_recent(reviewer) return P .. ':review:recent:' .. reviewer end
local function k_gold_lease(lease) return P .. ':review:gold:lease:' .. lease end
local function k_gold_shown(reviewer) return P .. ':review:gold:shown:' .. reviewer end
local RECENT_MAX = 2000  -- queue.HISTORY_MAX
local function id_of(member) return string.sub(member, 22) end

-- Back in line: the experts' queue if a reviewer was not sure of it (until someone answers it), the fresh
-- queue if nobody has seen the item, else the queue that checks who has.
-- A gold instance is its reviewer's alone (review/gold.py): handed back unanswered, it ends.
local function requeue(id)
  local item = k_item(id)
  local score, member, expert, gold = unpack(redis.call('HMGET', item, 'score', 'member', 'expert', 'gold'))
  redis.call('HSET', item, 'state', gold and 'expired' or 'waiting')
  redis.call('HDEL', item, 'lease', 'holder', 'leased_at', 'expires')
  redis.call('ZREM', K_LEASES, id)
  if gold then
    redis.call('ZREM', K_EXPERT_SINCE, id)
    for _, key in ipairs({item, k_answers(id), k_seen(id)}) do redis.call('EXPIRE', key, DAY_SECONDS) end
  elseif expert then
    redis.call('ZADD', K_EXPERT, score, member)
  elseif redis.call('SCARD', k_seen(id)) > 0 then
    redis.call('ZADD', K_AGAIN, score, member)
  else
    redis.call('ZADD', K_WAITING, score, member)
  end
end

-- Out of whichever line the item waits in.
local function unqueue(member)
  for _, key in ipairs({K_WAITING, K_AGAIN, K_EXPERT}) do redis.call('ZREM', key, member) end
end

local function release_holding(reviewer, id)
  if redis.call('GET', k_holding(reviewer)) == id then redis.call('DEL', k_holding(reviewer)) end
end

-- How long a gold lease still resolves its instance's shown id after it was last given or renewed: an answer sent
-- again after a lost response comes within seconds; three days, as a reviewer's history.
local GOLD_LEASE_SECONDS = 3 * DAY_SECONDS

local function lease_to(id, reviewer, lease, now, seconds)
  local expires = now + seconds
  redis.call('HSET', k_item(id), 'state', 'leased', 'lease', lease, 'holder', reviewer, 'leased_at', now, 'expires', expires)
  redis.call('ZADD', K_LEASES, expires, id)
  redis.call('SET', k_holding(reviewer), id)
  if redis.call('HEXISTS', k_item(id), 'shown') == 1 then
    redis.call('SET', k_gold_lease(lease), id, 'EX', GOLD_LEASE_SECONDS)
  end
end

-- A live lease renewed until `expires` (a heartbeat, a claim that finds the item held).
local function extend_lease(id, expires)
  redis.call('HSET', k_item(id), 'expires', expires)
  redis.call('ZADD', K_LEASES, expires, id)
  local lease, shown = unpack(redis.call('HMGET', k_item(id), 'lease', 'shown'))
  if shown then redis.call('EXPIRE', k_gold_lease(lease), GOLD_LEASE_SECONDS) end
end

-- The item a reviewer-side call names by (id, lease): a gold instance's key when the lease was given for it and the
-- id is the one it is shown under (review/gold.py, "Shown id"); else the item of that id. So a call meant for a real
-- record that has the shown id (under that record's own lease) goes to that record, and a call under the gold lease
-- meets the instance's lease check there, never another item's.
local function resolve(id, lease)
  local key = redis.call('GET', k_gold_lease(lease))
  if key and redis.call('HGET', k_item(key), 'shown') == id then return key end
  return id
end

-- What a reviewer is shown of an item's id and of an answer id on it (`<id>#<n>`): a gold instance's shown id.
local function shown_id(id)
  return redis.call('HGET', k_item(id), 'shown') or id
end
local function shown_answer_id(id, answer_id)
  return shown_id(id) .. string.sub(answer_id, #id + 1)
end

-- Leases past their expiry return their items to the queue; how many.
local function reap(now, max)
  local expired = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(expired) do
    local holder = redis.call('HGET', k_item(id), 'holder')
    if holder then release_holding(holder, id) end
    requeue(id)
  end
  return #expired
end

-- The lease check of answer, skip and heartbeat: nil when (id, lease) is this reviewer's live lease.
local function lease_problem(id, reviewer, lease, now)
  local state, current, holder, expires = unpack(redis.call('HMGET', k_item(id), 'state', 'lease', 'holder', 'expires'))
  if not state then return 'no such item' end
  if state ~= 'leased' or current ~= lease or holder ~= reviewer then return 'the lease is not yours or has ended' end
  if tonumber(expires) <= now then
    release_holding(reviewer, id)
    requeue(id)
    return 'the lease has expired'
  end
  return nil
end

-- An item is done: remembered for `keep` seconds (never served again, replays of its request ignored).
local function finish(id, keep)
  redis.call('HSET', k_item(id), 'state', 'done')
  for _, key in ipairs({k_item(id), k_answers(id), k_seen(id)}) do redis.call('EXPIRE', key, keep) end
end

-- The learner joins an answer with the record's features: keep them at least `keep` seconds more,
-- and put back what the labeler stored if its TTL ran out while the item waited (late answers).
local function keep_joinable(id, rec_key, keep)
  local ttl = redis.call('TTL', rec_key)
  if ttl == -2 then
    redis.call('SET', rec_key, redis.call('HGET', k_item(id), 'stored'), 'EX', keep)
  elseif ttl >= 0 and ttl < keep then
    redis.call('EXPIRE', rec_key, keep)
  end
end

-- A retraction of a reviewer's answer into the outbox (history is not edited): its answer id.
local function push_retraction(id, label, reviewer, supersedes, now)
  local retraction = id .. '#' .. redis.call('HINCRBY', k_item(id), 'seq', 1)
  redis.call('RPUSH', K_OUTBOX, cjson.encode({kind = 'retraction', id = id, label = label, reviewer = reviewer,
    answer_id = retraction, supersedes = supersedes, timestamp = now}))
  return retraction
end

-- A correction's JSON object (compact, as orjson writes it) with its answer_id added, the rest left as it is:
-- decoding and encoding it again would lose the order of its 'answers' (a Lua table has none), which is the
-- order the reviewers answered in (the learner takes the first as one reviewer's answer).
local function with_answer_id(json, answer_id)
  return string.sub(json, 1, -2) .. ',"answer_id":' .. cjson.encode(answer_id) .. '}'
end

-- An item leased to a reviewer, as they are shown it (its shown id; the key last, for the service's own look-ups).
local function item_reply(status, id, extra)
  local v = redis.call('HMGET', k_item(id), 'lease', 'expires', 'request', 'needed', 'shown')
  return {status, v[5] or id, v[1], v[2], v[3], v[4], extra or '', id}
end

-- The counter of an id whose shown ids draw one (claim.lua, shaped_like: the last run holding a digit, digits alone
-- or after letters, in an id that is not 12 or more hex digits and dashes): its shape (the id with the counter's
-- digits as '#', "web##" for "web07") and its digits ("07"); nil for any other id. The ingest keeps the highest
-- counter of each shape (p:review:counter_max:<shape>, 7 days from its last rise), the claim draws below it.
local function id_counter(id)
  if string.find(id, '^[%x%-]+$') and string.find(id, '%d') and string.find(id, '%a')
      and not (string.find(id, '%l') and string.find(id, '%u')) and #string.gsub(id, '%-', '') >= 12 then
    return nil
  end
  local last, at = nil, nil
  for start, run in string.gmatch(id, '()(%w+)') do
    if string.find(run, '%d') then last, at = run, start end
  end
  local word, number = string.match(last or '', '^(%a*)(%d+)$')
  if not number then return nil end
  at = at + #word
  return string.sub(id, 1, at - 1) .. string.rep('#', #number) .. string.sub(id, at + #number), number
end
local function k_counter_max(shape) return P .. ':review:counter_max:' .. shape end
