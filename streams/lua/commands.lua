-- The command format of iocmon's write scripts, shared by apply_batch.lua and bulk_write.lua
-- (streams/store.py puts this text after their first line). Commands come as one JSON
-- array (streams/writes.py, bulk_commands), k indexing KEYS:
--   {"MSET", {k, ...}, {value, ...}}
--   {"HINCRBY", k, field, n, field, n, ...}      (many fields: HINCRBY has no such form)
--   {name, k, arg, ...}                            HSET, RPUSH, ZREM, ZADD, SADD, HDEL
-- One JSON argument instead of one argument per member and field: packing arguments one by
-- one was the largest cost after planning.
local known = {
  HSET = true, HINCRBY = true, RPUSH = true, ZREM = true, ZADD = true, SADD = true,
  HDEL = true,
}

-- Everything is checked before anything is written: a script error undoes nothing.
local function check_commands(commands)
  for _, c in ipairs(commands) do
    if c[1] == 'MSET' then
      if #c[2] ~= #c[3] then
        return 'MSET needs one value a key'
      end
      for _, k in ipairs(c[2]) do
        if KEYS[k] == nil then
          return 'bad MSET key ' .. tostring(k)
        end
      end
    elseif not known[c[1]] or KEYS[c[2]] == nil then
      return 'bad command ' .. tostring(c[1])
    end
  end
  return nil
end

local function run_commands(commands)
  for _, c in ipairs(commands) do
    local name = c[1]
    if name == 'MSET' then
      local args = {}
      for i, k in ipairs(c[2]) do
        args[2 * i - 1] = KEYS[k]
        args[2 * i] = c[3][i]
      end
      redis.call('MSET', unpack(args))
    elseif name == 'HINCRBY' then
      local key = KEYS[c[2]]
      for i = 3, #c, 2 do
        redis.call('HINCRBY', key, c[i], c[i + 1])
      end
    else
      redis.call(name, KEYS[c[2]], unpack(c, 3))
    end
  end
end
