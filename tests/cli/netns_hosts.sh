# netns_hosts.sh - three "hosts" for the cluster tests (sourced after lib.sh): network
# namespaces on a bridge in the root namespace, one veth pair each, private 10.x.y.z addresses
# chosen from this run's pid (parallel runs do not collide), each running its own sshd (host
# key, config and authorized key generated here). The hosts share this machine's filesystem.
# Sets: NS (namespace names), ADDR (their addresses), NET (the /24's first three octets), K
# (the ssh directory: K/config is the client's ssh config, K/sshdI.bgpid each sshd's pid).
# netns_setup needs root, ip netns, sshd, ssh and ssh-keygen, else it calls `skip REASON`
# (the test's). The sanitizers' options pass through ssh (SendEnv/AcceptEnv), so that the
# hosts' programs of a sanitizer build run as the test's do. Each sshd logs its logins
# ("Accepted publickey for root from ADDR") to K/sshdI.log. netns_wait_sshd INDEX waits until
# it accepts logins. netns_cleanup kills every process in the namespaces (all started by the
# test: sshd, mc2d, enclaves, Open MPI daemons) and removes them and the bridge.
ID=$$
BR=m2b$ID
NET=10.$(((ID >> 8) & 255)).$((ID & 255))
NS=()
for i in 1 2 3; do NS+=("m2c$ID-$i"); done
ADDR=("$NET.11" "$NET.12" "$NET.13")
K=$WORK/ssh

netns_cleanup() {
  for ns in "${NS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$BR" 2>/dev/null
}

netns_check() {
  [[ $(id -u) -eq 0 ]] || skip "not running as root"
  command -v ip >/dev/null || skip "no 'ip' command (apt install iproute2)"
  SSHD=$(command -v sshd || echo /usr/sbin/sshd)
  [[ -x $SSHD ]] || skip "no sshd (apt install openssh-server)"
  command -v ssh >/dev/null || skip "no ssh client (apt install openssh-client)"
  command -v ssh-keygen >/dev/null || skip "no ssh-keygen"
}

netns_links() {
  ip link add "$BR" type bridge 2>/dev/null || skip "cannot create a bridge (no CAP_NET_ADMIN?)"
  ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || skip "cannot configure $BR"
  local i ns v
  for i in 0 1 2; do
    ns=${NS[$i]} v=m2v$ID$i
    ip netns add "$ns" || skip "ip netns add failed"
    ip link add "$v" type veth peer name eth0 netns "$ns" || skip "cannot create a veth pair"
    ip link set "$v" master "$BR" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "${ADDR[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# ssh: one host key for the three sshds, a client key, a client config
netns_ssh_keys() {
  mkdir -p "$K" /run/sshd
  chmod 700 "$K"
  ssh-keygen -q -t ed25519 -N '' -f "$K/host" -C host >/dev/null
  ssh-keygen -q -t ed25519 -N '' -f "$K/id" -C client >/dev/null
  cp "$K/id.pub" "$K/authorized_keys"
  : >"$K/known_hosts"
  local a
  for a in "${ADDR[@]}"; do echo "$a $(cut -d' ' -f1,2 "$K/host.pub")" >>"$K/known_hosts"; done
  cat >"$K/config" <<EOF
Host *
  User root
  IdentityFile $K/id
  IdentitiesOnly yes
  UserKnownHostsFile $K/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
  SendEnv ASAN_OPTIONS UBSAN_OPTIONS
EOF
}

netns_start_sshd() { # netns_start_sshd INDEX
  local i=$1
  cat >"$K/sshd$i.conf" <<EOF
Port 22
ListenAddress ${ADDR[$i]}
HostKey $K/host
PidFile $K/sshd$i.pid
AuthorizedKeysFile $K/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel INFO
AcceptEnv ASAN_OPTIONS UBSAN_OPTIONS
EOF
  # In a subshell, so that it is not a job of this shell (no "Killed" noise at cleanup).
  (ip netns exec "${NS[$i]}" "$SSHD" -f "$K/sshd$i.conf" -D -e 2>>"$K/sshd$i.log" &
    echo $! >"$K/sshd$i.bgpid")
}

netns_setup() {
  netns_check
  netns_links
  netns_ssh_keys
  local i
  for i in 0 1 2; do netns_start_sshd "$i"; done
  for i in 0 1 2; do netns_wait_sshd "$i"; done
}

netns_wait_sshd() { # netns_wait_sshd INDEX: until it accepts a login (at most ~5 s)
  for _ in $(seq 50); do
    ssh -F "$K/config" -o BatchMode=yes -o ConnectTimeout=2 "${ADDR[$1]}" true 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
