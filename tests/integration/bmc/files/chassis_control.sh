#!/bin/sh
# chassis_control program for OpenIPMI's ipmi_sim: power and boot device kept in
# files under $1, every call logged to $1/calls.log (tests count the actions).
#   chassis_control.sh DIR get power boot   -> "power:0|1" and "boot:<dev>" lines
#   chassis_control.sh DIR set KEY VALUE... (power 0|1, reset 1, shutdown 1, boot pxe|default|cdrom|bios)
# When $1/boots exists, powering on (or resetting) starts the command it holds (the bring-up tests'
# fake machine) in the background, with the next boot device as its last argument.
# It must return at once: ipmi_sim retransmits slow requests' answers.
dir=$1; shift; op=$1; shift
echo "$op $*" >> "$dir/calls.log"
boot() {
  [ -f "$dir/boots" ] || return 0
  # shellcheck disable=SC2046 # the file holds the arguments, one per word
  setsid $(cat "$dir/boots") "$(cat "$dir/boot" 2>/dev/null || echo default)" </dev/null >>"$dir/client.err" 2>&1 &
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
