#!/bin/bash
# One language hello in the cgroup v2 guest: `kiln run <file>` must say
# `status: accepted`. Exit 77 (reported as SKIP, with the reason) when
# emulation was too slow for a fixed limit: the language's toolchain probe
# timed out (`kiln languages` gives each probe 10 s; a JVM can take longer
# under TCG), or the compiler hit its CPU limit (30 s). The program's own
# CPU limit is KILN_TEST_TIME_SCALE times the default 5 s. 1 on any other
# failure.
kiln=$1 file=$2
out=$("$kiln" run --time-limit $((5 * ${KILN_TEST_TIME_SCALE:-1})) "$file" 2>&1)
rc=$?
printf '%s\n' "$out"
if grep -q '^status: accepted' <<< "$out"; then exit 0; fi
if grep -Eq '^note: (the compiler stopped: CPU time limit exceeded|the compile step went over its CPU time limit)' <<< "$out"; then
  echo "hello: the compiler needed more than its CPU limit under emulation"
  exit 77
fi
langs=$("$kiln" languages 2>&1)
printf '%s\n' "$langs"
ext=${file##*.}
if grep -E "^  [a-z+]+ .*timed out after" <<< "$langs" | grep -q . && ! grep -Eq "^[a-z]+ +[^ ]+ +[a-z]+ +([^ ]+ )*$ext( |$)" <<< "$langs"; then
  echo "hello: the toolchain for .$ext did not answer its probe in time under emulation"
  exit 77
fi
echo "hello: kiln run $file exited $rc without status: accepted"
exit 1
