print "Hello, Kiln!\n";
