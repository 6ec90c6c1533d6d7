#!/bin/sh
# A program linked against even_client alone needs no MySQL library (nor Boost or spdlog): neither
# on its link line nor among the shared libraries it loads. It is linked with --no-as-needed, so
# ldd lists every library of its link line. Usage: client_link_test.sh PROGRAM LINK_TXT
set -u
program=$1
link_txt=$2
forbidden='mysql|mariadb|boost|spdlog'
status=0
if grep -Eiq "$forbidden" "$link_txt"; then
  echo "the link line of $program names a forbidden library:"
  grep -Eio "[^ ]*($forbidden)[^ ]*" "$link_txt"
  status=1
fi
if ! libs=$(ldd "$program"); then
  echo "ldd $program failed"
  exit 1
fi
if echo "$libs" | grep -Ei "$forbidden"; then
  echo "$program loads the libraries above"
  status=1
fi
"$program" || status=1
[ $status -eq 0 ] && echo "ok: $program needs no MySQL, Boost or spdlog library"
exit $status
