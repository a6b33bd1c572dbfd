#!/usr/bin/env bash
# Start a throw-away one-node SLURM cluster on this machine (no systemd).
#
# Installs Debian's SLURM + MUNGE if missing (idempotent), writes a single-node
# slurm.conf (node at 127.0.0.1 with this machine's real CPUs and memory),
# starts munged, slurmctld and slurmd by hand, waits until the node is idle and
# writes every daemon's PID to the state directory, so stop_slurm.sh can stop
# exactly those processes.
#
# No accounting database: job status is read with `squeue` (MinJobAge keeps
# finished jobs visible for an hour) and every finished job is appended to
# $STATE/jobcomp.log (jobcomp/filetxt), which is the sbatch evidence tests use.
#
# Usage:  tests/slurm/start_slurm.sh            # idempotent; exit 0 when idle
# Env:    BLURSCOPE_SLURM_STATE  state dir (default /tmp/blurscope-slurm)
#         BLURSCOPE_SLURM_NO_INSTALL=1  never call apt-get (fail if missing)
#         BLURSCOPE_SLURM_TIMEOUT  seconds to wait for an idle node (default 90)
# Needs root (or password-less sudo) to install packages and start slurmd.
set -euo pipefail

STATE="${BLURSCOPE_SLURM_STATE:-/tmp/blurscope-slurm}"
TIMEOUT="${BLURSCOPE_SLURM_TIMEOUT:-90}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by blurscope tests/slurm/start_slurm.sh"
PARTITION=debug
T0=${EPOCHREALTIME/[.,]/}

log() {
    local now=${EPOCHREALTIME/[.,]/}
    printf '[start_slurm %6.1fs] %s\n' "$(((now - T0) / 100000))e-1" "$*" >&2
}
die() { echo "start_slurm.sh: ERROR: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        exec sudo -n -E "$0" "$@"
    fi
    die "needs root (or password-less sudo) to install and start SLURM"
fi

alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_idle() {
    local st
    st=$(timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -1) || return 1
    [[ "$st" == idle* || "$st" == mixed* || "$st" == allocated* ]]
}

# ---- already running? -----------------------------------------------------
if alive "$STATE/munged.pid" && alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid" && node_idle; then
    log "already running (state $STATE)"
    exit 0
fi

# ---- install (idempotent) -------------------------------------------------
need=()
for bin in slurmctld slurmd sbatch munged; do command -v "$bin" >/dev/null || need+=("$bin"); done
if ((${#need[@]})); then
    [[ "${BLURSCOPE_SLURM_NO_INSTALL:-0}" == 1 ]] && die "missing ${need[*]} and BLURSCOPE_SLURM_NO_INSTALL=1"
    command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get to install them"
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the packages' init scripts from starting anything
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >"$STATE.apt.log" 2>&1 ||
        { apt-get update -q >>"$STATE.apt.log" 2>&1 &&
          apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >>"$STATE.apt.log" 2>&1; } ||
        die "apt-get install failed; see $STATE.apt.log"
    log "installed"
fi

# ---- stop leftovers of an earlier start -----------------------------------
"$(dirname "$0")/stop_slurm.sh" >/dev/null 2>&1 || true

mkdir -p "$STATE"/{ctld,d,log}
chmod 755 "$STATE"

# ---- munge ----------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating munge key"
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key --force
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 700 /etc/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
rm -f /run/munge/munged.pid
runuser -u munge -- munged --force --pid-file=/run/munge/munged.pid >"$STATE/log/munged.stdout" 2>&1 ||
    die "munged did not start: $(cat "$STATE/log/munged.stdout"); see /var/log/munge/munged.log"
for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
cp /run/munge/munged.pid "$STATE/munged.pid"
munge -n | unmunge >/dev/null || die "munge round trip failed; see /var/log/munge/munged.log"
log "munged up (pid $(cat "$STATE/munged.pid"))"

# ---- slurm.conf -----------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc --all)
# RealMemory from slurmd's own probe (what slurmd will register), minus 5 %
MEM=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[[ -n "$MEM" ]] || MEM=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
MEM=$((MEM * 95 / 100))
if [[ -e "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to overwrite a real cluster's config"
fi
mkdir -p /etc/slurm
cat >"$CONF" <<EOF
$MARKER
# one-node test cluster; state in $STATE
ClusterName=blurscope
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# start test jobs at once instead of batching submissions for seconds
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DefMemPerCPU=1000
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
# no slurmdbd: squeue must still show finished jobs for status checks
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
log "wrote $CONF (node $HOST at 127.0.0.1, CPUs=$CPUS, RealMemory=$MEM MB)"

# ---- daemons --------------------------------------------------------------
rm -f "$STATE"/slurmctld.pid "$STATE"/slurmd.pid
slurmctld -c -i >>"$STATE/log/slurmctld.stdout" 2>&1 || die "slurmctld failed; see $STATE/log/slurmctld.log"
slurmd >>"$STATE/log/slurmd.stdout" 2>&1 || die "slurmd failed; see $STATE/log/slurmd.log"
for _ in $(seq 50); do [[ -s "$STATE/slurmctld.pid" && -s "$STATE/slurmd.pid" ]] && break; sleep 0.1; done
alive "$STATE/slurmctld.pid" || die "slurmctld is not running; see $STATE/log/slurmctld.log"
alive "$STATE/slurmd.pid" || die "slurmd is not running; see $STATE/log/slurmd.log"
log "slurmctld (pid $(cat "$STATE/slurmctld.pid")) and slurmd (pid $(cat "$STATE/slurmd.pid")) started"

deadline=$(($(date +%s) + TIMEOUT))
until node_idle; do
    if (($(date +%s) > deadline)); then
        sinfo -N -l >&2 || true
        tail -20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
        die "node not idle after ${TIMEOUT}s"
    fi
    # a node that registered as DOWN (e.g. after an unclean stop) is resumed
    if timeout 10 sinfo -h -N -o '%T' 2>/dev/null | grep -q '^down'; then
        scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.5
done
echo "$PARTITION" >"$STATE/partition"
log "node $HOST idle in partition $PARTITION; SLURM is up"
