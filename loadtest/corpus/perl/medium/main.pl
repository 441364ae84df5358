use strict;
use warnings;

my $n = int(<STDIN>);
my @composite = (0) x ($n + 1);
my ($count, $sum) = (0, 0);
for my $i (2 .. $n) {
    next if $composite[$i];
    $count++;
    $sum += $i;
    for (my $j = $i * $i; $j <= $n; $j += $i) { $composite[$j] = 1; }
}
print "$count $sum\n";
