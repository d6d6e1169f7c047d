-- Switch one partition from its live generation to a rebuilt one, atomically.
--
-- KEYS[1]  the live generation's offset key of the partition
-- KEYS[2]  the new generation's offset key of the same partition (same hash tag, same slot)
-- ARGV[1]  the new generation's prefix
--
-- The new generation must have applied at least every record the live one has (an absent
-- key counts as -1). Then the live offset key becomes 'moved:<new prefix>': a live worker's
-- next apply_batch on the old generation is refused with that answer and it moves over.
-- Returns {1, new_offset} when switched, {0, live_offset} when the live generation is ahead
-- (catch up and retry), {2, 'moved:...'} when the partition had already moved elsewhere.
local live = redis.call('GET', KEYS[1])
if live and string.sub(live, 1, 6) == 'moved:' then
  return {2, live}
end
local new = redis.call('GET', KEYS[2])
local live_n = tonumber(live or '-1')
local new_n = tonumber(new or '-1')
if new_n < live_n then
  return {0, live_n}
end
if not new then
  redis.call('SET', KEYS[2], '-1')
end
redis.call('SET', KEYS[1], 'moved:' .. ARGV[1])
return {1, new_n}
