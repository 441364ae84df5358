# Runtime error: an uncaught die. With $! and $? cleared first, perl exits
# with status 255.
print "before the error\n";
$! = 0;
$? = 0;
die "boom\n";
