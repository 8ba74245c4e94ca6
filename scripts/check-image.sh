#!/usr/bin/env bash
# Builds the container image from the Dockerfile and proves that it works:
# it runs the image with a local stand-in for Slack, posts an example Okta
# delivery, waits for the alert to reach the stand-in, checks that the
# service runs as a non-root user and that its health check passes, stops
# it with SIGTERM and checks that it exits 0. It prints the image size.
#
# It uses Debian's podman, so it needs no Docker engine, and it needs no
# registry for base images: when docker.io/library/debian:bookworm-slim is
# not present it builds a local stand-in under that name with debootstrap.
# Run it as root on a Debian machine: `bash scripts/check-image.sh`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CHECK_IMAGE_WORK:-/var/tmp/okta-mfa-notifier-image}
IMAGE=localhost/okta-mfa-notifier:check
BASE=docker.io/library/debian:bookworm-slim
HOOK_PORT=${HOOK_PORT:-48080}
ADMIN_PORT=${ADMIN_PORT:-48090}
SLACK_PORT=${SLACK_PORT:-48100}
SECRET=image-check-secret
NAME=okta-mfa-notifier-check-$$

say() { printf '\n== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

say "Installing podman, runc and debootstrap (Debian packages)"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi
podman --version

mkdir -p "$WORK"
# Settings that make podman work on a host without cgroup v2 controllers or
# the right to raise resource limits: host networking, runc, cgroupfs.
NOFILE=$(ulimit -Hn)
cat > "$WORK/containers.conf" <<CONF
[containers]
netns = "host"
log_driver = "k8s-file"
default_ulimits = ["nofile=${NOFILE}:${NOFILE}", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
cat > "$WORK/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "/run/containers/okta-mfa-notifier-check"
graphroot = "/var/lib/containers/okta-mfa-notifier-check"
CONF
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf

if ! podman image exists "$BASE"; then
    say "Building a local stand-in for $BASE with debootstrap"
    rootfs=$WORK/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
    mirror=$(awk '/^deb /{print $2; exit}' "$rootfs/etc/apt/sources.list")
    rm -f "$rootfs/etc/apt/sources.list"
    cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $mirror-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/doc/*
    # Certificates this host trusts beyond Debian's (an outbound TLS proxy,
    # for instance), so that the build stage can fetch crates as the host can.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        mkdir -p "$rootfs/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    tar --numeric-owner -C "$rootfs" -cf - . | podman import --change 'CMD ["bash"]' - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi

say "Building $IMAGE"
started=$(date +%s)
podman build --pull=never --format docker -t "$IMAGE" "$ROOT"
echo "built in $(( $(date +%s) - started )) s"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $(( size / 1000000 )) MB ($size bytes)"

say "Starting a Slack stand-in on 127.0.0.1:$SLACK_PORT"
received=$WORK/slack-received.jsonl
: > "$received"
python3 - "$SLACK_PORT" "$received" <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Slack(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        answer = json.dumps({"ok": True, "channel": "C0IMAGECHK", "ts": "1.000001"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Slack).serve_forever()
PY
slack_pid=$!
cleanup() {
    kill "$slack_pid" 2>/dev/null || true
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$NAME-data" >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "Running the image"
podman volume create "$NAME-data" >/dev/null
podman run -d --name "$NAME" --health-interval=disable \
    -v "$NAME-data:/data" \
    -e OKTA_MFA_NOTIFIER__SERVER__LISTEN=127.0.0.1:$HOOK_PORT \
    -e OKTA_MFA_NOTIFIER__ADMIN__LISTEN=127.0.0.1:$ADMIN_PORT \
    -e OKTA_MFA_NOTIFIER__OKTA__AUTH_SECRETS=$SECRET \
    -e OKTA_MFA_NOTIFIER__SLACK__BOT_TOKEN=xoxb-image-check \
    -e OKTA_MFA_NOTIFIER__SLACK__CHANNEL=C0IMAGECHK \
    -e OKTA_MFA_NOTIFIER__SLACK__API_URL=http://127.0.0.1:$SLACK_PORT \
    -e OKTA_MFA_NOTIFIER__LOG__FORMAT=json \
    "$IMAGE" >/dev/null 2>>"$WORK/podman.log"
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" || { podman logs "$NAME"; fail "the service never became ready"; }

say "Posting an example delivery"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HOOK_PORT/okta/event-hook" \
    -H "Authorization: $SECRET" -H 'Content-Type: application/json' \
    --data @"$ROOT/examples/okta/01-admin-reset-all.json")
[ "$status" = 200 ] || fail "the hook answered $status"
for _ in $(seq 1 50); do
    [ -s "$received" ] && break
    sleep 0.2
done
[ -s "$received" ] || { podman logs "$NAME"; fail "no alert reached the Slack stand-in"; }
grep -q 'Tomás Berg' "$received" || fail "the alert does not name the user"
echo "the alert reached the Slack stand-in: $(wc -l < "$received") message(s)"

say "Checking the user, the health check and SIGTERM"
pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
echo "the service runs as uid $uid"
[ "$uid" != 0 ] || fail "the service runs as root"
podman healthcheck run "$NAME" 2>>"$WORK/podman.log" && echo "health check passed" || fail "the health check failed"
started=$(date +%s%N)
podman stop --time 10 "$NAME" >/dev/null 2>>"$WORK/podman.log"
took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
echo "stopped in ${took_ms} ms with exit code $code"
[ "$code" = 0 ] || { podman logs "$NAME"; fail "exit code $code after SIGTERM"; }
podman logs "$NAME" 2>&1 | grep -q 'Received SIGTERM' || fail "the service did not see SIGTERM"

say "The image works: $(( size / 1000000 )) MB, non-root, alert delivered, clean stop"
