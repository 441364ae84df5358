import sys

from matrix import Matrix

n = int(sys.stdin.readline())
a = Matrix(n, lambda i, j: (i * j + i + j) % 7)
cube = a * a * a
print("trace", cube.trace())
print("sum", cube.total())
