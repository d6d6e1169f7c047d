#!lua flags=
-- Drop what one partition no longer needs as its stream time moves on (CONTRACT §3a).
--
-- KEYS[1]  the hour-buckets index      KEYS[2]  the procedure-days index
-- KEYS[3]  the ended-days index        (sorted sets scored by the start of their hour or day)
-- KEYS[4]  the duration-months index   (scored by the end of the month)
-- ARGV[1]  the partition's key base, `<prefix>:{<topic>/<partition>}`
-- ARGV[2]  hourly counters of hours starting before this (Unix s) are deleted: days hold them
-- ARGV[3]  per-procedure and report day counters of days starting before this are deleted:
--          months hold them
-- ARGV[4]  the dossiers listed under days starting before this are forgotten...
-- ARGV[5]  ...if they are still ended, and ended before this (a dossier id forgotten and then
--          received anew is left alone)
-- ARGV[6]  at most this many hours, days, months and dossiers a call, so Redis is never
--          held long
-- ARGV[7]  the duration histograms (issue #18) of months ending before this are deleted: the
--          forecast reads the dossiers ended within the horizon
--
-- Deletes only what no figure reads and no judging needs, so running it twice, late, or
-- from a worker that lost the partition changes nothing. The keys deleted are built from
-- ARGV[1]; they share the partition's hash slot with KEYS. Returns {hours, days, dossiers,
-- more}, `more` = 1 when the limit stopped it.
local base, limit = ARGV[1], tonumber(ARGV[6])
local left = limit
local hours = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, left)
for _, h in ipairs(hours) do
  redis.call('DEL', base .. ':ended:h:' .. h, base .. ':received:h:' .. h, base .. ':report:h:' .. h)
  redis.call('ZREM', KEYS[1], h)
end
left = left - #hours
local days = {}
if left > 0 then
  days = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3], 'LIMIT', 0, left)
  for _, d in ipairs(days) do
    redis.call('DEL', base .. ':procedure:d:' .. d, base .. ':report:d:' .. d)
    redis.call('ZREM', KEYS[2], d)
  end
  left = left - #days
end
if left > 0 then
  local months = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[7], 'LIMIT', 0, left)
  for _, m in ipairs(months) do
    redis.call('DEL', base .. ':durations:m:' .. m)
    redis.call('ZREM', KEYS[4], m)
  end
  left = left - #months
end
local forgotten = 0
local cutoff = tonumber(ARGV[5])
if left > 0 then
  -- Every day due, not one: a worker calls again only while `more` says the limit stopped
  -- it, so a call that left due days behind let dossiers pile up in a backlog (a plan spans
  -- days of stream time) and never caught up.
  local ended = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4], 'LIMIT', 0, left)
  for _, d in ipairs(ended) do
    if left <= 0 then
      break
    end
    local list = base .. ':ended-on:' .. d
    local ids = redis.call('LRANGE', list, 0, left - 1)
    for _, id in ipairs(ids) do
      local key = base .. ':d:' .. id
      local blob = redis.call('GET', key)
      if blob then
        local ok, state = pcall(cjson.decode, blob)
        -- compact state: [format, status, history, ..., ended_at at 14]; 3 = ended
        if ok and type(state) == 'table' and state[2] == 3 and state[14] and state[14] < cutoff then
          redis.call('DEL', key)
          forgotten = forgotten + 1
        end
      end
    end
    redis.call('LTRIM', list, #ids, -1)
    left = left - #ids
    if redis.call('LLEN', list) == 0 then
      redis.call('ZREM', KEYS[3], d)
    end
  end
end
local more = 0
if left <= 0 then
  more = 1
end
return {#hours, #days, forgotten, more}
