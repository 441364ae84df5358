-- Runtime error: os.exit(3) after a message on stderr.
print("before the error")
io.stderr:write("fatal: something went wrong\n")
os.exit(3)
