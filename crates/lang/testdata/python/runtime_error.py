# Runtime error: an uncaught ZeroDivisionError; exits with status 1.
print("before the error")
print(1 // 0)
