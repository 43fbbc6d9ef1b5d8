#!/bin/sh
# chassis_control program of the bring-up lab's ipmi_sim BMCs. Power and boot device live in files
# under $1; powering on (or resetting) a machine whose next boot device is the network (pxe) and whose
# $1/boots file exists starts a fake PXE client in the lab's namespace with the command that file holds.
# Every call goes to $1/calls.log.
# It must return at once (ipmi_sim retransmits slow answers): the client runs in the background.
dir=$1; shift; op=$1; shift
echo "$op $*" >> "$dir/calls.log"
boot() {
  [ -f "$dir/boots" ] && [ "$(cat "$dir/boot" 2>/dev/null)" = pxe ] || return 0
  # shellcheck disable=SC2046 # the file holds the arguments, one per word
  setsid $(cat "$dir/boots") </dev/null >>"$dir/client.err" 2>&1 &
}
case "$op" in
  get)
    for what in "$@"; do
      case $what in
        power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)" ;;
        boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
      esac
    done ;;
  set)
    while [ $# -ge 2 ]; do
      key=$1; value=$2; shift 2
      case $key in
        power) echo "$value" > "$dir/power"; [ "$value" = 1 ] && boot ;;
        reset) echo 1 > "$dir/power"; boot ;;
        shutdown) echo 0 > "$dir/power" ;;
        boot) echo "$value" > "$dir/boot" ;;
      esac
    done ;;
esac
exit 0
