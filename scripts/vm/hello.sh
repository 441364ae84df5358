#!/bin/bash
# One language hello in the cgroup v2 guest: `kiln run <file>` must say
# `status: accepted`. Exit 77 (reported as SKIP) when the language's
# toolchain probe timed out under emulation (`kiln languages` gives each
# probe 10 s; a JVM can take longer under TCG), 1 on any other failure.
kiln=$1 file=$2
out=$("$kiln" run "$file" 2>&1)
rc=$?
printf '%s\n' "$out"
if grep -q '^status: accepted' <<< "$out"; then exit 0; fi
langs=$("$kiln" languages 2>&1)
printf '%s\n' "$langs"
ext=${file##*.}
if grep -E "^  [a-z+]+ .*timed out after" <<< "$langs" | grep -q . && ! grep -Eq "^[a-z]+ +[^ ]+ +[a-z]+ +([^ ]+ )*$ext( |$)" <<< "$langs"; then
  echo "hello: the toolchain for .$ext did not answer its probe in time under emulation"
  exit 77
fi
echo "hello: kiln run $file exited $rc without status: accepted"
exit 1
