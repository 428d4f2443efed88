#!/bin/sh
# demo-image.sh: build a small busybox image as an OCI image layout tar,
# from Debian's busybox-static (/bin/busybox), with no registry and no
# network: one layer (bin/busybox, a symlink per applet that
# `busybox --list` names, /etc/passwd and /etc/group, the usual empty
# dirs), a config with Env PATH and Cmd ["sh"], and the name NAME in
# index.json (io.containerd.image.name), so that
#     crispctl image import OUT.tar
# stores it as NAME (--tag NAME says the same). Prints OUT.tar's path.
#
# usage: sh scripts/demo-image.sh [OUT.tar [NAME]]
#   OUT.tar  default ./busybox-oci.tar     NAME  default crisp.local/busybox:latest
#   BUSYBOX=/path/to/static/busybox to use another binary.
# Needs only sh, busybox, sha256sum, GNU tar and gzip (coreutils, tar,
# gzip: in every Debian); the result is the same bytes on every run of the
# same busybox.
set -eu

out=${1:-busybox-oci.tar}
name=${2:-crisp.local/busybox:latest}
bb=${BUSYBOX:-/bin/busybox}
mtime=1672531200        # 2023-01-01: fixed, so that the digests are stable

die() { echo "demo-image.sh: $*" >&2; exit 1; }

[ -x "$bb" ] || die "$bb not found: apt-get install busybox-static"
if [ -z "${BUSYBOX:-}" ] && command -v dpkg-query >/dev/null 2>&1; then
	dpkg-query -S "$bb" 2>/dev/null | grep -q '^busybox-static' ||
		die "$bb is not Debian's busybox-static (a static binary is needed): apt-get install busybox-static"
fi
case "$(uname -m)" in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	armv7l) arch=arm ;;
	i?86) arch=386 ;;
	*) arch=$(uname -m) ;;
esac
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/demo-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/rootfs"
lay="$work/layout"
mkdir -p "$root" "$lay/blobs/sha256"

# ---- the layer --------------------------------------------------------------
for d in bin etc root home var proc sys dev tmp; do mkdir -p "$root/$d"; done
chmod 0755 "$root" "$root"/*
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
	'nobody:x:65534:65534:nobody:/home:/bin/false' > "$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'nogroup:x:65534:' > "$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"

tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$mtime" --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$work/layer.tar"

# A blob: moved under blobs/sha256/<digest>; sets $dg and $sz.
blob() {
	dg=$(sha256sum "$1" | cut -d' ' -f1)
	sz=$(wc -c < "$1" | tr -d ' ')
	mv "$1" "$lay/blobs/sha256/$dg"
}

blob "$work/layer.tar.gz"
layer_dg=$dg layer_sz=$sz

# ---- config, manifest, index --------------------------------------------------
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"crisp scripts/demo-image.sh (Debian busybox-static)"}]}' \
	"$arch" "$diff_id" > "$work/config.json"
blob "$work/config.json"
config_dg=$dg config_sz=$sz

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config_dg" "$config_sz" "$layer_dg" "$layer_sz" > "$work/manifest.json"
blob "$work/manifest.json"

tag=${name##*:}
case "$name" in *:*) case "$tag" in */*) tag=latest ;; esac ;; *) tag=latest ;; esac
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
	"$dg" "$sz" "$arch" "$name" "$tag" > "$lay/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$lay/oci-layout"

tar --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$mtime" --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$lay" -cf "$work/out.tar" oci-layout index.json blobs
mv "$work/out.tar" "$out"
echo "$out"
