# Reads two integers from stdin (on one line or two) and prints their sum.
import sys

a, b = map(int, sys.stdin.read().split()[:2])
print(a + b)
