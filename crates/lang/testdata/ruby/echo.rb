$stdin.binmode
$stdout.binmode
IO.copy_stream($stdin, $stdout)
