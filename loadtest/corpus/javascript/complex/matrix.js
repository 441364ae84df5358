// A small matrix type, required by main.js.
class Matrix {
  constructor(n, cell) {
    this.n = n;
    this.rows = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => cell(i, j)));
  }
  mul(other) {
    return new Matrix(this.n, (i, j) => {
      let s = 0;
      for (let k = 0; k < this.n; k++) s += this.rows[i][k] * other.rows[k][j];
      return s;
    });
  }
  trace() {
    return this.rows.reduce((s, row, i) => s + row[i], 0);
  }
  total() {
    return this.rows.flat().reduce((s, v) => s + v, 0);
  }
}
module.exports = { Matrix };
