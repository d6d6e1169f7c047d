#!lua flags=
-- Apply one partition's batch atomically, exactly once.
--
-- KEYS[1]  the partition's last-applied-offset key; KEYS[2] its version key (how many
--          scripts wrote the partition); KEYS[3..] every key the ops touch (all in the
--          partition's hash slot, so this also runs on Redis Cluster).
-- ARGV[1]  the offset the batch was planned against (-1: nothing applied yet)
-- ARGV[2]  the batch's last offset
-- ARGV[3]  JSON array of commands (lua/commands.lua, put before this by streams/store.py)
-- ARGV[4]  the version the plan's states were read at, or '' to check the offset only
--
-- Returns {1, new_version} when applied, {0, current_offset} when the partition moved on
-- since the batch was planned (another worker applied it, or wrote its states): the caller
-- must re-read and re-plan; {2, 'moved:<prefix>'} when `iocmon rebuild` switched the
-- partition to another generation (see streams/generations.py): re-read and re-plan there.
--
-- Declared flags (none) make Redis refuse the whole script, before any write, while it is
-- over maxmemory: a batch is never applied in part.
local raw = redis.call('GET', KEYS[1])
if raw and string.sub(raw, 1, 6) == 'moved:' then
  return {2, raw}
end
local current = tonumber(raw or '-1')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[4] ~= '' and version ~= tonumber(ARGV[4]) then
  return {0, current}
end
local commands = cjson.decode(ARGV[3])
local problem = check_commands(commands)
if problem then
  return redis.error_reply('apply_batch: ' .. problem)
end
run_commands(commands)
redis.call('SET', KEYS[1], ARGV[2])
return {1, redis.call('INCR', KEYS[2])}
