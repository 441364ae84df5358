const n = parseInt(require("fs").readFileSync(0, "utf8").trim(), 10);
const sieve = new Uint8Array(n + 1).fill(1);
sieve[0] = sieve[1] = 0;
for (let i = 2; i * i <= n; i++) {
  if (sieve[i]) for (let j = i * i; j <= n; j += i) sieve[j] = 0;
}
let count = 0, sum = 0;
for (let i = 2; i <= n; i++) if (sieve[i]) { count++; sum += i; }
console.log(`${count} ${sum}`);
