binmode STDIN;
binmode STDOUT;
local $/ = \65536;
print while <STDIN>;
