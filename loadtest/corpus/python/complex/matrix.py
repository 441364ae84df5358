"""A small generic matrix type, imported by main.py."""


class Matrix:
    def __init__(self, n, cell):
        self.n = n
        self.rows = [[cell(i, j) for j in range(n)] for i in range(n)]

    def __mul__(self, other):
        n = self.n
        return Matrix(n, lambda i, j: sum(self.rows[i][k] * other.rows[k][j] for k in range(n)))

    def trace(self):
        return sum(self.rows[i][i] for i in range(self.n))

    def total(self):
        return sum(map(sum, self.rows))
