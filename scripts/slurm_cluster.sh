#!/usr/bin/env bash
# A one-node SLURM cluster on 127.0.0.1, to try deploy/slurm/grade.sbatch on one machine.
#
#   scripts/slurm_cluster.sh start DIR    # munged, slurmctld and slurmd, all state in DIR
#   export SLURM_CONF=DIR/slurm.conf      # then sbatch, squeue, scancel talk to it
#   scripts/slurm_cluster.sh stop DIR     # cancel its jobs, stop the three daemons by pid
#
# Needs root and Debian's packages slurmctld, slurmd, slurm-client and munge (SLURM 22.05;
# scripts/install_system_deps.sh installs them). Nothing outside DIR is written or read
# but the packages' programs: a munge key made for this cluster, a slurm.conf with ports of
# its own (SLURMCTLD_PORT, SLURMD_PORT; free ones are chosen when unset), and the daemons'
# state, spool, logs and pid files. DIR must be a folder the `munge` user can enter (its
# parents mode 755 or 711: not under a mode-700 folder such as /tmp/pytest-of-root).
# The node is named mgp-<port>, with SLURM_NODE_CPUS CPUs (default: this machine's) and
# SLURM_NODE_MEMORY_MB memory (default 8000) as declared, in one partition, `grading`.
# `start` waits at most START_TIMEOUT seconds (default 60) for the node to be idle; if
# anything fails it stops what it started and prints the daemons' logs. `stop` waits at
# most STOP_TIMEOUT seconds (default 30) for the jobs and each daemon, then kills.
set -Eeuo pipefail

usage() {
    echo "usage: $0 start|stop|status DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$2
DAEMONS=(slurmd slurmctld munged) # the order in which they are stopped
PATH="$PATH:/usr/sbin:/sbin"      # the daemons, off a plain PATH

need() {
    local missing=() program
    for program in munged munge unmunge slurmctld slurmd sbatch squeue scancel sinfo scontrol setpriv; do
        command -v "$program" >/dev/null 2>&1 || missing+=("$program")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]} (install the Debian packages slurmctld slurmd slurm-client" \
            "munge: scripts/install_system_deps.sh)" >&2
        exit 3
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "a one-node SLURM needs root (slurmd starts jobs as their user)" >&2
        exit 3
    fi
    id munge >/dev/null 2>&1 || {
        echo "no user 'munge' (the munge package creates it)" >&2
        exit 3
    }
}

free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    exit 1
}

alive() { # alive NAME: the daemon whose pid file is DIR/run/NAME.pid is running
    local pid
    pid=$(cat "$dir/run/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

stop_daemon() { # stop_daemon NAME: TERM, wait, KILL; by the pid this script recorded
    local name=$1 pid waited=0
    alive "$name" || {
        rm -f "$dir/run/$name.pid"
        return 0
    }
    pid=$(cat "$dir/run/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$name" && [ "$waited" -lt "$((STOP_TIMEOUT * 10))" ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if alive "$name"; then
        echo "$name (pid $pid) did not stop within ${STOP_TIMEOUT} s: killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/run/$name.pid"
    echo "stopped $name (pid $pid)"
}

stop_all() {
    if alive slurmctld; then # cancel the jobs first: slurmd does not take their steps along
        local waited=0
        SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --user=root --full 2>/dev/null || true
        while [ -n "$(SLURM_CONF="$dir/slurm.conf" timeout 10 squeue -h -o %i -t R,CG 2>/dev/null)" ] \
            && [ "$waited" -lt "$STOP_TIMEOUT" ]; do
            sleep 1
            waited=$((waited + 1))
        done
    fi
    local name
    for name in "${DAEMONS[@]}"; do
        stop_daemon "$name"
    done
}

launch() { # launch NAME COMMAND...: in the background, its pid recorded, output to its log
    local name=$1
    shift
    setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
    echo $! >"$dir/run/$name.pid"
}

wait_for() { # wait_for NAME COMMAND...: until COMMAND succeeds, at most START_TIMEOUT s
    local what=$1 waited=0
    shift
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$(cat "$dir/run/$what.pid")" 2>/dev/null; then
            echo "$what stopped while starting (its log: $dir/log/)" >&2
            return 1
        fi
        if [ "$waited" -ge "$((START_TIMEOUT * 5))" ]; then
            echo "$what not ready within ${START_TIMEOUT} s" >&2
            return 1
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

munge_works() {
    munge -n --socket="$dir/munge/munge.socket" | unmunge --socket="$dir/munge/munge.socket"
}

node_idle() {
    [ "$(SLURM_CONF="$dir/slurm.conf" sinfo -h -N -o %T 2>/dev/null)" = idle ]
}

write_conf() {
    local host ctld_port slurmd_port cpus memory
    host=$(hostname -s)
    ctld_port=${SLURMCTLD_PORT:-$(free_port)}
    slurmd_port=${SLURMD_PORT:-$(free_port)}
    [ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$(free_port)
    cpus=${SLURM_NODE_CPUS:-$(nproc)}
    memory=${SLURM_NODE_MEMORY_MB:-8000}
    cat >"$dir/slurm.conf" <<EOF
# A one-node SLURM made by scripts/slurm_cluster.sh; everything it keeps is under $dir.
ClusterName=mgp$ctld_port
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/state/slurmctld.pid
SlurmdPidFile=$dir/spool/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
NodeName=mgp-$ctld_port NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=grading Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    echo "mgp-$ctld_port" >"$dir/run/node"
}

start() {
    need
    if alive slurmctld || alive slurmd || alive munged; then
        echo "a cluster already runs in $dir: $0 stop $dir first" >&2
        exit 1
    fi
    # munged wants its socket's folder open to all, its key's folder private, both its own
    mkdir -p "$dir"/{munge,munge-key,state,spool,log,run}
    chmod 711 "$dir"
    chown munge: "$dir/munge" "$dir/munge-key"
    chmod 755 "$dir/munge"
    chmod 700 "$dir/munge-key"
    head -c 1024 /dev/urandom >"$dir/munge-key/munge.key"
    chown munge: "$dir/munge-key/munge.key"
    chmod 400 "$dir/munge-key/munge.key"
    write_conf
    trap 'echo "start failed: stopping what started" >&2; stop_all >&2; tail -n 20 "$dir"/log/* >&2; exit 1' ERR
    launch munged setpriv --reuid=munge --regid=munge --clear-groups munged --foreground \
        --socket="$dir/munge/munge.socket" --key-file="$dir/munge-key/munge.key" \
        --pid-file="$dir/munge-key/munged.pid" --seed-file="$dir/munge-key/munged.seed"
    wait_for munged munge_works
    export SLURM_CONF="$dir/slurm.conf"
    launch slurmctld slurmctld -D -f "$dir/slurm.conf"
    wait_for slurmctld scontrol ping
    launch slurmd slurmd -D -f "$dir/slurm.conf" -N "$(cat "$dir/run/node")"
    wait_for slurmd node_idle
    trap - ERR
    echo "SLURM runs on 127.0.0.1: node $(cat "$dir/run/node"), partition grading"
    echo "export SLURM_CONF=$dir/slurm.conf"
}

status() {
    local name
    for name in "${DAEMONS[@]}"; do
        if alive "$name"; then
            echo "$name: running (pid $(cat "$dir/run/$name.pid"))"
        else
            echo "$name: not running"
        fi
    done
}

START_TIMEOUT=${START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
case $action in
    start) start ;;
    stop) stop_all ;;
    status) status ;;
    *) usage ;;
esac
