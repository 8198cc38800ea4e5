# shellcheck shell=sh
# The on-host half of the transaction (hardening/change/transaction.py), after common.sh. Python sets,
# in the assignments before them (hardening/change/protocol.py, the one definition of each):
#   the protocol: EXIT_INVALID EXIT_NOT_BACK EXIT_BUSY EXIT_LOST EXIT_IO (Exit), MARK_LOCKED
#     MARK_THEN_EXIT MARK_CANDIDATE MARK_COMMITTED MARK_CONFIRMED MARK_ROLLED_BACK MARK_STATE
#     (Marker), in front of this text;
#   the transaction (Header), in front of every step: STATE TOKEN CHECK CHECK_SPEC RELOAD
#     RESTART WATCHER CONFIRM_TIMEOUT LEASE NEW_SUFFIX OLD_SUFFIX (candidate and backup beside
#     each file), and WATCH_HEAD_B64 for the commit.
# A step is lines `txn MODE ARGS...` (protocol.py, Mode; each is a function below).
# Modes:
#   lock | then_step B64 | acquire | stage_write PATH B64 | stage_delete PATH | stage_check B64
#   | validate | commit | confirm | rollback | abort | state | watch
# This text arrives as $_body (protocol.py): the lock keeps it as $lock/txn.sh for the later
# steps, and the commit writes it, under the header, into the rollback watcher.
umask 077
lock="$STATE/lock"

now() { date +%s; }
say() { printf '%s\n' "$*"; }
die() { code=$1; shift; say "$*" >&2; exit "$code"; }
new_name() { printf '%s/.%s%s' "$(dirname "$1")" "$(basename "$1")" "$NEW_SUFFIX"; }
old_name() { printf '%s/.%s%s' "$(dirname "$1")" "$(basename "$1")" "$OLD_SUFFIX"; }

owner_field() { cut -d' ' -f"$1" "$lock/owner" 2>/dev/null; }
owns() { [ -d "$lock" ] && [ "$(owner_field 3)" = "$TOKEN" ]; }

# Inodes of the LISTEN sockets the sshd listener holds: a reload (re-exec) makes new ones.
listen_inodes() {
  pid=$(listener_pid)
  [ -n "$pid" ] || return 0
  # shellcheck disable=SC2012  # the names in /proc/PID/fd are numbers
  for s in $(ls -l "/proc/$pid/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p'); do
    awk -v i="$s" '$4 == "0A" && $10 == i { print i }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
  done | sort -u | tr '\n' ' '
}

# Readiness poll, best effort (the caller still retries its fresh connection): new listening
# sockets after a re-exec, or a new sshd holding systemd's socket after a restart under
# socket activation.
wait_listener() {
  [ -n "$1" ] || return 1  # no listener socket of our own to watch
  n=0
  while [ "$n" -lt 100 ]; do
    cur=$(listen_inodes)
    [ -n "$cur" ] && { [ "$cur" != "$1" ] || [ "$(listener_pid)" != "$2" ]; } && return 0
    sleep 0.05; n=$((n + 1))
  done
  return 1
}

listener_alive() {
  pid=$(listener_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Put every file listed in the backup index back as it was, then make sshd read it.
restore() {
  [ -f "$lock/backup" ] || return 0
  while read -r was target; do
    if [ "$was" = present ]; then
      old=$(old_name "$target")
      [ -e "$old" ] && mv -f "$old" "$target"
    else
      rm -f "$target"
    fi
  done < "$lock/backup"
  rm -f "$lock/installed"
  if listener_alive; then sh -c "$RELOAD" >/dev/null 2>&1 || sh -c "$RESTART" >/dev/null 2>&1
  else sh -c "$RESTART" >/dev/null 2>&1; fi
}

drop_temps() {
  [ -f "$lock/manifest" ] && while read -r _ target; do rm -f "$(new_name "$target")"; done < "$lock/manifest"
  rm -f "$CHECK"
}

# A lock whose holder is gone and whose lease ran out belongs to a transaction that died.
take_stale_lock() {
  [ -d "$lock" ] || return 0
  pid=$(owner_field 1); expires=$(owner_field 2)
  [ -n "$expires" ] || expires=0
  if [ -n "$pid" ] && [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then return 1; fi
  [ "$(now)" -gt "$expires" ] || return 1
  [ -f "$lock/installed" ] && restore
  drop_temps
  rm -rf "$lock"
}

acquire() {
  if owns; then return 0; fi
  { mkdir -p "$STATE" && chmod 700 "$STATE"; } || die "$EXIT_IO" "cannot create $STATE"
  take_stale_lock || die "$EXIT_BUSY" "busy: another apply holds $lock ($(cat "$lock/owner" 2>/dev/null))"
  mkdir "$lock" 2>/dev/null || die "$EXIT_BUSY" "busy: another apply just took $lock"
  say "0 $(( $(now) + LEASE )) $TOKEN" > "$lock/owner" || { rm -rf "$lock"; die "$EXIT_IO" "cannot write $lock"; }
  : > "$lock/manifest"
}

# Lock only; staging and the admin user come after, under it. The lock keeps this script.
mode_lock() {
  acquire
  # shellcheck disable=SC2154  # _body: this very text (protocol.py)
  printf '%s\n' "$_body" > "$lock/txn.sh" || { rm -rf "$lock"; die "$EXIT_IO" "cannot write $lock/txn.sh"; }
  say "$MARK_LOCKED"
}

# A step under the lock (the admin user's): its exit status follows its output, with our
# token (no output of the step can fake it); staging runs only after a step that succeeded.
then_step() {
  printf '%s' "$1" | base64 -d | sh; rc=$?
  say "$MARK_THEN_EXIT-$TOKEN $rc"
  [ "$rc" = 0 ] || exit "$rc"
}

# What is left of our transaction: none | staged | installed.
state() {
  if ! owns; then say "$MARK_STATE none"; elif [ -f "$lock/installed" ]; then say "$MARK_STATE installed"
  else say "$MARK_STATE staged"; fi
}

# stage_write PATH BASE64 / stage_delete PATH: candidates next to their targets (same
# filesystem, so the later rename is atomic), root:root 0600.
stage_write() {
  tmp=$(new_name "$1")
  # A socket unit's drop-in directory may not exist yet; left behind empty, it changes nothing.
  [ -d "$(dirname "$1")" ] || mkdir -m 755 "$(dirname "$1")"
  if ! printf '%s' "$2" | base64 -d > "$tmp" 2>"$lock/err" || ! sync "$tmp" 2>>"$lock/err"; then
    err=$(cat "$lock/err"); rm -f "$tmp"; drop_temps; rm -rf "$lock"
    die "$EXIT_IO" "cannot write $tmp: ${err:-write failed}"
  fi
  chown 0:0 "$tmp" && chmod 600 "$tmp"
  say "write $1" >> "$lock/manifest"
}
stage_delete() { say "delete $1" >> "$lock/manifest"; }
# The file `sshd -t -f` validates: the candidate as sshd will read it (never installed).
stage_check() {
  if ! printf '%s' "$1" | base64 -d > "$CHECK" 2>"$lock/err"; then
    err=$(cat "$lock/err"); drop_temps; rm -rf "$lock"
    die "$EXIT_IO" "cannot write $CHECK: ${err:-write failed}"
  fi
}

validate() {
  if ! out=$(sshd_check -t -f "$CHECK"); then
    drop_temps; rm -rf "$lock"
    die "$EXIT_INVALID" "$out"
  fi
  say "$MARK_CANDIDATE"
  sshd_check -T -f "$CHECK" -C "$CHECK_SPEC"
}

commit() {
  owns || die "$EXIT_LOST" "lost the lock $lock before commit"
  : > "$lock/backup"
  while read -r action target; do
    if [ -e "$target" ]; then
      ln -f "$target" "$(old_name "$target")" || { drop_temps; rm -rf "$lock"; die "$EXIT_IO" "cannot back up $target"; }
      say "present $target" >> "$lock/backup"
    else
      say "absent $target" >> "$lock/backup"
    fi
  done < "$lock/manifest"
  # Arm the rollback before anything changes: if we die from here on, the host heals itself.
  if ! { { printf '%s' "$WATCH_HEAD_B64" | base64 -d && printf '%s\n' "$_body" && say 'txn watch'; } > "$lock/watch.sh" \
         && sh -n "$lock/watch.sh"; }; then
    drop_temps; rm -rf "$lock"; die "$EXIT_IO" "cannot write the rollback watcher in $lock"
  fi
  deadline=$(( $(now) + CONFIRM_TIMEOUT ))
  if ! start_watcher || ! kill -0 "$watcher_pid" 2>/dev/null; then
    drop_temps; rm -rf "$lock"; die "$EXIT_IO" "the rollback watcher did not start; nothing changed"
  fi
  say "$watcher_pid $(( deadline + 30 )) $TOKEN" > "$lock/owner"
  : > "$lock/installed"
  while read -r action target; do
    if [ "$action" = write ]; then mv -f "$(new_name "$target")" "$target"
    else rm -f "$target"; fi
  done < "$lock/manifest"
  rm -f "$CHECK"
  before=$(listen_inodes); before_pid=$(listener_pid)
  if ! out=$(sh -c "$RELOAD" 2>&1); then
    restore; rm -rf "$lock"
    die "$EXIT_NOT_BACK" "reload failed ($RELOAD): $out; previous configuration restored"
  fi
  wait_listener "$before" "$before_pid" || true
  say "$MARK_COMMITTED $deadline"
}

# The watcher outlives our SSH session. Under systemd it is a transient unit of its own:
# logind's KillUserProcesses= kills a session's processes, even `setsid` ones, when it ends.
start_watcher() {
  if [ "$WATCHER" = systemd-run ]; then
    unit="hardened-ecs-rollback-$TOKEN.service"
    desc="hardened-ecs rollback watcher"
    # --collect (systemd 236+) unloads the unit even if it fails; CentOS 7's 219 lacks it.
    systemd-run --quiet --collect --unit="$unit" --description="$desc" \
      /bin/sh "$lock/watch.sh" </dev/null >/dev/null 2>&1 \
    || systemd-run --unit="$unit" --description="$desc" \
      /bin/sh "$lock/watch.sh" </dev/null >/dev/null 2>&1 || return 1
    say "$unit" > "$lock/unit"
    watcher_pid=$(systemctl show -p MainPID "$unit" 2>/dev/null | cut -d= -f2)  # no --value on 219
    [ -n "$watcher_pid" ] && [ "$watcher_pid" != 0 ]
  else
    setsid sh "$lock/watch.sh" </dev/null >/dev/null 2>&1 &
    watcher_pid=$!
  fi
}

stop_watcher() {
  if [ -f "$lock/unit" ]; then
    systemctl stop "$(cat "$lock/unit")" >/dev/null 2>&1
    return 0
  fi
  pid=$(owner_field 1)
  [ -n "$pid" ] && [ "$pid" != 0 ] && kill "$pid" 2>/dev/null
  return 0
}

# Confirm, rollback and the watcher each claim the end of the transaction first: only one of
# them may act, never half of each.
claim() { mkdir "$lock/ending" 2>/dev/null; }

confirm() {
  owns || die "$EXIT_LOST" "the transaction is gone (rolled back by the host after the confirm timeout?)"
  claim || die "$EXIT_LOST" "the host's own rollback is already under way"
  stop_watcher
  while read -r was target; do rm -f "$(old_name "$target")"; done < "$lock/backup"
  rm -rf "$lock"
  say "$MARK_CONFIRMED"
}

rollback() {
  owns || die "$EXIT_LOST" "the transaction is gone (already rolled back?)"
  claim || die "$EXIT_LOST" "the host's own rollback is already under way"
  stop_watcher
  restore
  rm -rf "$lock"
  say "$MARK_ROLLED_BACK"
}

abort() {
  owns || exit 0
  drop_temps
  rm -rf "$lock"
}

watch() {
  trap '' HUP
  # Counted with sleep, not the wall clock: a fresh VM's clock may still be stepped by NTP.
  sleep "$CONFIRM_TIMEOUT"
  owns || exit 0
  claim || exit 0  # confirm or rollback got there first
  trap '' TERM
  restore
  rm -rf "$lock"
}

# The one entry point: each line of a step is `txn MODE ARGS...`.
txn() {
  mode=$1; shift
  case $mode in
    lock) mode_lock ;;
    then_step) then_step "$1" ;;
    acquire) acquire ;;
    stage_write) stage_write "$1" "$2" ;;
    stage_delete) stage_delete "$1" ;;
    stage_check) stage_check "$1" ;;
    validate) validate ;;
    commit) commit ;;
    confirm) confirm ;;
    rollback) rollback ;;
    abort) abort ;;
    state) state ;;
    watch) watch ;;
    *) die 2 "txn.sh: no mode $mode" ;;
  esac
}
