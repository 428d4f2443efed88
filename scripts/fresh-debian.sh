#!/bin/sh
# fresh-debian.sh: check that the README's test command passes on a minimal,
# fresh Debian 12 with nothing but this repository's committed files.
#
# What it does: debootstraps a minbase Debian 12 (bookworm) root, clones this
# repository's HEAD into its /root/project (so that only committed files are
# there, and /root is 0700 as on any Debian), pivots into it with /proc, /sys
# (with the cgroup hierarchies), /dev, /dev/pts, a tmpfs /run and /tmp, and
# runs there, as root, what the README says (and .ci/run does):
#
#     sh scripts/bootstrap.sh && make && make check
#
# each step timed; a table of the times closes the run (make check prints its
# own, per stage, before it). Exit status 0 only if every step passed. Then
# it removes the root it made.
#
# How to run it, as root, from a checkout (it tests the committed HEAD; a
# full run takes ~15-25 minutes on 2 cores, so keep a log):
#
#     sh scripts/fresh-debian.sh [--keep] > fresh.log 2>&1
#
#   --keep                keep the root (its path is printed) to look into;
#                         no mount or process of the run is left either way
#   FRESH_DEBIAN_DIR      where to make the root (default /var/tmp; it needs
#                         ~4 GB and must not be a nodev/noexec mount)
#   FRESH_DEBIAN_CACHE    where the debootstrap tarball is kept between runs
#                         (default /var/cache/crisp-fresh-debian; empty: none)
#   FRESH_DEBIAN_MIRROR   the Debian mirror (default: the one this machine's
#                         apt uses for bookworm, from `apt-get indextargets`)
#
# What it needs: a Debian host with apt (it installs debootstrap with apt-get
# if it is missing), git, util-linux's unshare, root, and the Debian archive
# reachable through this machine's apt configuration: the root gets the same
# mirrors and this machine's Acquire settings (proxies, Check-Valid-Until), so
# that `make setup` inside can install the packages the way a user's would.
#
# Nothing is left behind: the run lives in its own mount and PID namespaces
# (unshare --mount --pid --propagation private). Every mount it makes is in
# that namespace only, never seen by the host, and goes with it; when the run
# ends, fails, or is stopped (Ctrl-C, SIGTERM), the namespace's init is
# killed, and with it every process the run started (daemons and containers
# included); only then is the root removed. (Killed outright, by SIGKILL,
# it still takes every process of the run with it, but cannot remove its
# work dir: remove /var/tmp/crisp-fresh-debian.* by hand, it holds no mount.)
# Package installs inside start no daemon (a policy-rc.d says no, as in any
# chroot without an init).
#
# Two halves: the host side (the end of this file) prepares, starts the
# namespace and cleans up; the namespace's init (pid 1 there, the section
# "inside") is this same script, run as `fresh-debian.sh --inside WORKDIR`.
set -u

SUITE=bookworm
STEPS_FILE="times"        # in the work dir: one "step|result|seconds" a line

log() { echo "fresh-debian: $*"; }
die() { echo "fresh-debian: $*" >&2; exit 1; }

# step NAME COMMAND...: run and time one step of the inside run; record it.
step() {
	name=$1
	shift
	log "== $name"
	t0=$(date +%s)
	if "$@"; then r=ok; else r="FAILED (exit $?)"; fi
	secs=$(($(date +%s) - t0))
	log "== $name: $r, ${secs}s"
	echo "$name|$r|$secs" >> "$WORK/$STEPS_FILE"
	[ "$r" = ok ]
}

# ---------------------------------------------------------------- inside

# The namespace's init: build the root, mount, run the README's command.
inside_cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# this is pid 1 of the namespace: any other process in it is the run's
	ps -e -o pid=,args= > "$WORK/ps" 2>/dev/null
	if grep -v -e '^ *1 ' -e '^ *[0-9]* ps -e -o' "$WORK/ps"; then
		log "(the processes above were left behind by the run; killed)"
	fi
	kill -KILL -1 2>/dev/null
	# the namespace's mounts go with it; unmount them all the same
	umount -R "$ROOT" 2>/dev/null || umount -R -l "$ROOT" 2>/dev/null
	exit "$rc"
}

debootstrap_root() {
	arch=$(dpkg --print-architecture)
	if [ -n "$FRESH_DEBIAN_CACHE" ]; then
		tarball="$FRESH_DEBIAN_CACHE/$SUITE-minbase-$arch.tgz"
		if [ ! -s "$tarball" ]; then
			mkdir -p "$FRESH_DEBIAN_CACHE" || return 1
			log "downloading $SUITE minbase into $tarball"
			rm -rf "$WORK/dl"
			debootstrap --variant=minbase --arch="$arch" \
				--make-tarball="$tarball.part" "$SUITE" "$WORK/dl" "$MIRROR" ||
				{ rm -f "$tarball.part"; return 1; }
			rm -rf "$WORK/dl"
			mv "$tarball.part" "$tarball" || return 1
		fi
		debootstrap --variant=minbase --arch="$arch" --unpack-tarball="$tarball" \
			"$SUITE" "$ROOT" "$MIRROR" && return 0
		log "the cached $tarball did not install: removed, for the next run"
		rm -f "$tarball"
		return 1
	fi
	debootstrap --variant=minbase --arch="$arch" "$SUITE" "$ROOT" "$MIRROR"
}

# apt inside: this machine's Debian mirrors and Acquire settings.
configure_apt() {
	printf '%s\n' "deb $MIRROR $SUITE main" \
		"deb $UPDATES_MIRROR $SUITE-updates main" \
		"deb $SECURITY_MIRROR $SUITE-security main" > "$ROOT/etc/apt/sources.list" ||
		return 1
	printf '%s' "$APT_ACQUIRE" > "$ROOT/etc/apt/apt.conf.d/99fresh-debian-host" || return 1
	# no init runs in the root: package installs must not start daemons
	printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d" &&
		chmod 0755 "$ROOT/usr/sbin/policy-rc.d" || return 1
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

mount_root() {
	# the root a mount point of its own, so that pivot_root (runc) works in it
	mount --bind "$ROOT" "$ROOT" &&
	mount -t proc proc "$ROOT/proc" &&
	mount --rbind /sys "$ROOT/sys" &&
	mount --rbind /dev "$ROOT/dev" &&
	{ mountpoint -q "$ROOT/dev/pts" ||
		mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts"; } &&
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$ROOT/run" &&
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/tmp"
}

clone_repo() {
	git clone -q "$REPO" "$ROOT/root/project" &&
	log "testing $(git -C "$ROOT/root/project" log -1 --format='%h %s')"
}

# in_root COMMAND: run a shell command in /root/project inside the root, with
# the environment of a fresh root login and no terminal input. The root is
# made the root of a mount namespace of the command's own (pivot_root, the
# old root unmounted), not merely chroot'ed into: a process that joins a
# container's mount namespace (runc exec) is put at that namespace's root,
# which under a chroot would still be the host's, outside the container.
in_root() {
	unshare --mount --propagation private /bin/sh -c '
		cd "$1" && mkdir -p .fresh-old && pivot_root . .fresh-old &&
		cd / && umount -l /.fresh-old && rmdir /.fresh-old &&
		exec /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/sh \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			TERM="$3" /bin/sh -c "cd /root/project && $2"' \
		in_root "$ROOT" "$1" "${TERM:-dumb}" < /dev/null
}

inside() {
	WORK=$1
	ROOT=$WORK/root
	trap inside_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$ROOT" && chmod 0755 "$ROOT" || exit 1
	step "debootstrap $SUITE minbase" debootstrap_root || exit 1
	configure_apt || die "cannot configure apt in $ROOT"
	mount_root || die "cannot mount /proc, /sys, /dev, /run, /tmp in $ROOT"
	step "clone" clone_repo || exit 1
	step "sh scripts/bootstrap.sh" in_root "sh scripts/bootstrap.sh" || exit 1
	step "make" in_root "make" || exit 1
	step "make check" in_root "make check" || exit 1
	exit 0
}

if [ "${1:-}" = --inside ]; then
	inside "$2"
fi

# ---------------------------------------------------------------- host

KEEP=false
for a in "$@"; do
	case $a in
	--keep) KEEP=true ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $a (see --help)" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "run as root"
REPO=$(cd "$(dirname "$0")/.." && pwd) || exit 1
command -v git >/dev/null 2>&1 || die "git is needed"
for t in unshare setpriv pivot_root mountpoint; do
	command -v $t >/dev/null 2>&1 || die "$t (util-linux, coreutils) is needed"
done
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] ||
	log "note: $REPO has uncommitted changes; only its HEAD is tested"

T_START=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
log "apt-get update (for debootstrap and the mirror list)"
apt-get update -qq || die "apt-get update failed"
if ! command -v debootstrap >/dev/null 2>&1; then
	log "installing debootstrap"
	apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
		die "cannot install debootstrap"
fi

# the mirror this machine's apt uses for SUITE (and -updates, -security)
mirror_of() {
	apt-get indextargets --format '$(REPO_URI)' "Codename: $1" \
		'Origin: Debian' 'Created-By: Packages' 2>/dev/null | head -n 1
}
MIRROR=${FRESH_DEBIAN_MIRROR:-$(mirror_of $SUITE)}
if [ -z "$MIRROR" ]; then
	MIRROR=http://deb.debian.org/debian/
	log "apt has no Debian $SUITE source; using $MIRROR"
fi
UPDATES_MIRROR=$(mirror_of $SUITE-updates)
SECURITY_MIRROR=$(mirror_of $SUITE-security)
UPDATES_MIRROR=${UPDATES_MIRROR:-$MIRROR}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security/}
log "mirror $MIRROR (updates $UPDATES_MIRROR, security $SECURITY_MIRROR)"

# this machine's Acquire settings that reaching the mirror may need
APT_ACQUIRE="// from the host's apt configuration, by scripts/fresh-debian.sh
"
for key in Acquire::http::Proxy Acquire::https::Proxy Acquire::ftp::Proxy \
	Acquire::Check-Valid-Until Acquire::Check-Date; do
	val=""
	eval "$(apt-config shell val "$key")"
	[ -n "$val" ] && APT_ACQUIRE="$APT_ACQUIRE$key \"$val\";
"
done

mkdir -p "${FRESH_DEBIAN_DIR:-/var/tmp}" || exit 1
WORK=$(mktemp -d "${FRESH_DEBIAN_DIR:-/var/tmp}/crisp-fresh-debian.XXXXXX") || exit 1
export MIRROR UPDATES_MIRROR SECURITY_MIRROR APT_ACQUIRE REPO
export FRESH_DEBIAN_CACHE="${FRESH_DEBIAN_CACHE-/var/cache/crisp-fresh-debian}"
log "root $WORK/root"

NS_PID=""           # unshare's pid; the namespace's init is its one child

# stop_ns: kill the namespace's init (and with it every process of the run)
# and wait until it is gone.
stop_ns() {
	[ -n "$NS_PID" ] || return 0
	init=$(cat "/proc/$NS_PID/task/$NS_PID/children" 2>/dev/null)
	for p in $init; do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$NS_PID" 2>/dev/null
	NS_PID=""
	for p in $init; do
		n=0
		while [ -e "/proc/$p" ] && [ "$n" -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		[ -e "/proc/$p" ] && log "warning: the run's init $p is still there"
	done
	return 0
}

host_cleanup() {
	rc=$?
	trap - EXIT INT TERM
	stop_ns
	if grep -qF " $WORK" /proc/self/mountinfo; then
		log "mounts under $WORK are still there: not removing it"
		exit 1
	fi
	if $KEEP; then
		log "kept the root: $WORK/root"
	else
		log "removing $WORK"
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap host_cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

# setpriv: if this script is killed outright (SIGKILL, no trap), unshare is
# too, and with it (--kill-child) the namespace's init and every process in it
setpriv --pdeathsig KILL \
	unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
	/bin/sh "$REPO/scripts/fresh-debian.sh" --inside "$WORK" &
NS_PID=$!
wait "$NS_PID"
rc=$?
NS_PID=""

total=$(($(date +%s) - T_START))
echo
log "summary"
printf '%-28s %-20s %7s\n' step result seconds
if [ -f "$WORK/$STEPS_FILE" ]; then
	while IFS='|' read -r name result secs; do
		printf '%-28s %-20s %7s\n' "$name" "$result" "$secs"
	done < "$WORK/$STEPS_FILE"
fi
printf '%-28s %-20s %7s\n' "whole run" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" "$total"
exit "$rc"
