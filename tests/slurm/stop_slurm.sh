#!/usr/bin/env bash
# Stop the one-node test cluster started by start_slurm.sh, by PID only.
#
# Cancels jobs still in the queue, then stops slurmd, slurmctld and munged
# using the PID files in the state directory (never by process name), waiting
# up to 15 s for each before SIGKILL, and removes the /etc/slurm/slurm.conf that
# start_slurm.sh wrote (only that one: it carries start_slurm.sh's marker line).
# With the config left behind and no controller, every SLURM client call waits
# for the dead controller: snakemake-executor-plugin-slurm runs `scontrol show
# config` when it is imported, so every `snakemake` on the machine would start
# ~9 s slower. The state directory (logs, jobcomp.log)
# is kept for inspection; pass --purge to delete it too.
#
# Env: BLURSCOPE_SLURM_STATE  state dir (default /tmp/blurscope-slurm)
set -uo pipefail

STATE="${BLURSCOPE_SLURM_STATE:-/tmp/blurscope-slurm}"

if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n -E "$0" "$@"
fi

[[ -d "$STATE" ]] || { echo "stop_slurm.sh: no state dir $STATE; nothing to stop" >&2; exit 0; }

stop_pid() { # name pidfile
    local name=$1 file=$2 pid
    [[ -s "$file" ]] || return 0
    pid=$(cat "$file")
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop_slurm.sh: $name (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "stop_slurm.sh: stopped $name (pid $pid)" >&2
    fi
    rm -f "$file"
}

# cancel what is left of test jobs while the controller still answers
if [[ -s "$STATE/slurmctld.pid" ]] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; then
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
fi
stop_pid slurmd "$STATE/slurmd.pid"
stop_pid slurmctld "$STATE/slurmctld.pid"
stop_pid munged "$STATE/munged.pid"

CONF=/etc/slurm/slurm.conf
if [[ -f "$CONF" ]] && grep -qF "# written by blurscope tests/slurm/start_slurm.sh" "$CONF"; then
    rm -f "$CONF"
    echo "stop_slurm.sh: removed $CONF (written by start_slurm.sh)" >&2
fi

if [[ "${1:-}" == --purge ]]; then
    rm -rf "$STATE"
    echo "stop_slurm.sh: removed $STATE" >&2
fi
exit 0
