#!/bin/bash
# cleanSource cost (docs/BENCHMARKS.md, "cleanSource"): one `run --once` over N one-line
# files in 100 folders, cleanSource off / delete / archive, best of 3 each,
# and `find -delete` of the same files as the peer. Usage: bench/clean_source_bench.sh build/lakepipe 20000
BIN=$1; N=$2; D=${TMPDIR:-/tmp}/clean_source_bench
gen() { rm -rf $D; mkdir -p $D/landing $D/p; python3 - "$D/landing" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = os.path.join(d, "d%03d" % (i % 100))
    if i < 100: os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%07d.csv" % i), "w") as f: f.write("id\n%d\n" % i)
PY
}
pipeline() { # $1: extra options
  printf 'name: b\nstorage: %s/storage\nlibraries: [p.sql]\nconfiguration: {landing: %s/landing}\n' $D $D > $D/p/pipeline.yaml
  printf "CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('\${landing}', format => 'csv', header => true, schema => 'id INT'%s);\n" "$1" > $D/p/p.sql
}
for mode in off delete archive; do
  best=""
  for rep in 1 2 3; do
    gen
    case $mode in off) pipeline "";; delete) pipeline ", cleanSource => 'delete'";; archive) pipeline ", cleanSource => 'archive', sourceArchiveDir => '$D/archive'";; esac
    sync
    s=$(date +%s.%N); $BIN run $D/p --once --no-server >/dev/null 2>&1 || echo FAILED; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc); left=$(find $D/landing -type f | wc -l)
    echo "$mode rep $rep: ${t}s, files left $left, load $(cut -d' ' -f1 /proc/loadavg)"
    [ -z "$best" ] || [ $(echo "$t < $best" | bc) = 1 ] && best=$t
  done
  echo "$mode best ${best}s"
done
best=""
for rep in 1 2 3; do
  gen; sync
  s=$(date +%s.%N); find $D/landing -type f -delete; e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc); echo "find -delete rep $rep: ${t}s"
  [ -z "$best" ] || [ $(echo "$t < $best" | bc) = 1 ] && best=$t
done
echo "find -delete best ${best}s"
