# Runtime error: exit 3 after a message on stderr.
echo "before the error"
echo "fatal: something went wrong" >&2
exit 3
