read -r n
declare -a composite
count=0
sum=0
for ((i = 2; i <= n; i++)); do
  if [[ -z ${composite[i]} ]]; then
    ((count++, sum += i))
    for ((j = i * i; j <= n; j += i)); do composite[j]=1; done
  fi
done
echo "$count $sum"
