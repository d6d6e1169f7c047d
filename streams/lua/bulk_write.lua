#!lua flags=
-- Write a plan's grouped writes with few scripted calls: `apply_unread` of the rebuild.
--
-- KEYS     every key written (all in the partition's hash slot, so this also runs on Redis
--          Cluster).  Everything is checked before anything is written.
-- ARGV[1]  JSON array of commands, applied in order:
--          {"MSET", {k, ...}, {value, ...}}          k indexes KEYS
--          {name, k, arg, ...}                       HSET, HINCRBY, RPUSH, ZREM, ZADD, SADD
--
-- Declared flags (none) make Redis refuse the whole script, before any write, while it is
-- over maxmemory: a plan is never written in part.
--
-- One JSON argument instead of one argument per member and field: packing arguments one by
-- one was the rebuild's largest cost after planning.
local known = {HSET = true, HINCRBY = true, RPUSH = true, ZREM = true, ZADD = true, SADD = true}
local commands = cjson.decode(ARGV[1])
for _, c in ipairs(commands) do
  if c[1] == 'MSET' then
    if #c[2] ~= #c[3] then
      return redis.error_reply('bulk_write: MSET needs one value a key')
    end
    for _, k in ipairs(c[2]) do
      if KEYS[k] == nil then
        return redis.error_reply('bulk_write: bad MSET key ' .. tostring(k))
      end
    end
  elseif not known[c[1]] or KEYS[c[2]] == nil then
    return redis.error_reply('bulk_write: bad command ' .. tostring(c[1]))
  end
end
for _, c in ipairs(commands) do
  if c[1] == 'MSET' then
    local args = {}
    for i, k in ipairs(c[2]) do
      args[2 * i - 1] = KEYS[k]
      args[2 * i] = c[3][i]
    end
    redis.call('MSET', unpack(args))
  else
    redis.call(c[1], KEYS[c[2]], unpack(c, 3))
  end
end
return #commands
