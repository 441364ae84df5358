n = STDIN.gets.to_i
composite = Array.new(n + 1, false)
count = 0
sum = 0
(2..n).each do |i|
  next if composite[i]
  count += 1
  sum += i
  (i * i).step(n, i) { |j| composite[j] = true }
end
puts "#{count} #{sum}"
