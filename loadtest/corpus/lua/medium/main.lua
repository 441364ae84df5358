local n = tonumber(io.read("l"))
local composite = {}
local count, sum = 0, 0
for i = 2, n do
  if not composite[i] then
    count = count + 1
    sum = sum + i
    for j = i * i, n, i do composite[j] = true end
  end
end
print(string.format("%d %d", count, sum))
