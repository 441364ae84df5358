# cat copies bytes exactly (the read builtin would drop NULs).
exec cat
