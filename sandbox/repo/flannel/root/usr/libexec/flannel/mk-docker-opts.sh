#!/bin/bash
# Turn flanneld's subnet file into docker daemon options.
# kboot sandbox repository: same options and output as the script the
# CentOS 7 flannel package ships.
#
#   -f FILE  flannel subnet file to read (default /run/flannel/subnet.env)
#   -d FILE  docker environment file to write (default /run/docker_opts.env)
#   -k NAME  name of the combined variable (default DOCKER_OPTS)
#   -c       write only the combined variable
#   -i       write only the individual DOCKER_OPT_* variables
#   -m       leave out --mtu
set -e

usage() {
	echo "usage: $0 [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]" >&2
	exit 1
}

flannel_env="/run/flannel/subnet.env"
docker_env="/run/docker_opts.env"
combined_key="DOCKER_OPTS"
combined_only=false
individual_only=false
with_mtu=true

while getopts "f:d:icmk:" opt; do
	case $opt in
	f) flannel_env=$OPTARG ;;
	d) docker_env=$OPTARG ;;
	i) individual_only=true ;;
	c) combined_only=true ;;
	m) with_mtu=false ;;
	k) combined_key=$OPTARG ;;
	*) usage ;;
	esac
done

if [ "$combined_only" = true ] && [ "$individual_only" = true ]; then
	echo "$0: -c and -i are mutually exclusive" >&2
	exit 1
fi

# flanneld writes the subnet file just before it signals readiness; allow a
# short grace period in case this runs first.
for _ in $(seq 1 50); do
	[ -r "$flannel_env" ] && break
	sleep 0.1
done
if [ ! -r "$flannel_env" ]; then
	echo "$0: flannel subnet file $flannel_env not found: is flanneld running?" >&2
	exit 1
fi
# shellcheck disable=SC1090
. "$flannel_env"

if [ -z "$FLANNEL_SUBNET" ]; then
	echo "$0: FLANNEL_SUBNET missing from $flannel_env" >&2
	exit 1
fi

# When flanneld masquerades traffic leaving the overlay, docker must not.
ipmasq=true
if [ "$FLANNEL_IPMASQ" = true ]; then
	ipmasq=false
fi

opts_bip="--bip=$FLANNEL_SUBNET"
opts_ipmasq="--ip-masq=$ipmasq"
opts_mtu=""
if [ "$with_mtu" = true ] && [ -n "$FLANNEL_MTU" ]; then
	opts_mtu="--mtu=$FLANNEL_MTU"
fi

mkdir -p "$(dirname "$docker_env")"
tmp="$docker_env.$$"
{
	if [ "$combined_only" != true ]; then
		echo "DOCKER_OPT_BIP=\"$opts_bip\""
		echo "DOCKER_OPT_IPMASQ=\"$opts_ipmasq\""
		if [ -n "$opts_mtu" ]; then
			echo "DOCKER_OPT_MTU=\"$opts_mtu\""
		fi
	fi
	if [ "$individual_only" != true ]; then
		echo "$combined_key=\" $opts_bip $opts_ipmasq${opts_mtu:+ $opts_mtu}\""
	fi
} > "$tmp"
mv -f "$tmp" "$docker_env"
