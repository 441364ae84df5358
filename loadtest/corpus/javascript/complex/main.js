const { Matrix } = require("./matrix.js");

const n = parseInt(require("fs").readFileSync(0, "utf8").trim(), 10);
const a = new Matrix(n, (i, j) => (i * j + i + j) % 7);
const cube = a.mul(a).mul(a);
console.log(`trace ${cube.trace()}`);
console.log(`sum ${cube.total()}`);
